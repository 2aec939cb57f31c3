//! `spec.successPolicy` (`pkg/controller/job/success_policy.go`): an Indexed Job can be
//! declared successful before every index succeeded. Rules are tried in order: a rule
//! with `succeededIndexes` is met when all those indexes succeeded (or, with
//! `succeededCount`, at least that many of them); a rule with only `succeededCount` is met
//! when that many indexes succeeded in total.

use k8s_openapi::api::batch::v1::SuccessPolicy;

use super::indexed::OrderedIntervals;

/// `matchSuccessPolicy`: the `SuccessCriteriaMet` message (`Matched rules at index <n>`)
/// of the first rule met, if any.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i64,
    succeeded: &OrderedIntervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let met = if let Some(text) = &rule.succeeded_indexes {
            let required = OrderedIntervals::parse(text, completions);
            // A rule whose indexes do not parse is skipped, as upstream does.
            !required.is_empty()
                && succeeded_indexes_rule_met(&required, succeeded, rule.succeeded_count)
        } else {
            rule.succeeded_count
                .is_some_and(|count| succeeded.total() >= i64::from(count))
        };
        if met {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

/// `matchSucceededIndexesRule`: counts the overlap of two interval lists in one pass.
fn succeeded_indexes_rule_met(
    required: &OrderedIntervals,
    succeeded: &OrderedIntervals,
    count: Option<i32>,
) -> bool {
    let (mut contains, mut s, mut r) = (0i64, 0usize, 0usize);
    while r < required.0.len() && s < succeeded.0.len() {
        let (want, have) = (required.0[r], succeeded.0[s]);
        let overlap = want.last.min(have.last) - want.first.max(have.first) + 1;
        if overlap > 0 {
            contains += overlap;
        }
        if have.last < want.last {
            s += 1;
        } else if have.last > want.last {
            r += 1;
        } else {
            s += 1;
            r += 1;
        }
    }
    contains == required.total() || count.is_some_and(|c| contains >= i64::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::SuccessPolicyRule;

    fn rule(indexes: Option<&str>, count: Option<i32>) -> SuccessPolicyRule {
        SuccessPolicyRule {
            succeeded_indexes: indexes.map(String::from),
            succeeded_count: count,
        }
    }

    #[test]
    fn the_first_met_rule_wins() {
        let rows = [
            // (rules, succeeded indexes, completions, expected message)
            (
                vec![rule(Some("0"), None)],
                "0",
                5,
                Some("Matched rules at index 0"),
            ),
            (vec![rule(Some("0-2"), None)], "0,1", 5, None),
            (
                vec![rule(Some("0-2"), Some(2))],
                "0,2",
                5,
                Some("Matched rules at index 0"),
            ),
            (
                vec![rule(Some("1,3"), None), rule(None, Some(3))],
                "0,2,4",
                5,
                Some("Matched rules at index 1"),
            ),
            (vec![rule(None, Some(3))], "0,1", 5, None),
            (
                vec![rule(Some("x"), None), rule(Some("4"), None)],
                "4",
                5,
                Some("Matched rules at index 1"),
            ),
            (
                vec![rule(Some("1-3,5-7"), Some(4))],
                "0-2,5,6,9",
                10,
                Some("Matched rules at index 0"),
            ),
            (vec![rule(Some("1-3,5-7"), Some(5))], "0-2,5,6,9", 10, None),
            (vec![rule(None, Some(1))], "", 5, None),
        ];
        for (rules, succeeded, completions, want) in rows {
            let policy = SuccessPolicy { rules };
            let succeeded = OrderedIntervals::parse(succeeded, completions);
            let got = match_success_policy(Some(&policy), completions, &succeeded);
            assert_eq!(got.as_deref(), want, "{succeeded:?}");
        }
        assert_eq!(
            match_success_policy(None, 5, &OrderedIntervals::parse("0-4", 5)),
            None
        );
    }
}
