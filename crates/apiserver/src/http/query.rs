//! Query parameters: percent-decoding, Go's `strconv.ParseBool`, and the typed option
//! sets of each verb. Unknown parameters are ignored (kubectl adds `timeout`, `pretty`).

use corral_api::ApiError;
use corral_printers::IncludeObject;

use crate::service::{FieldValidation, ListOptions, LogOptions, VersionMatch, WriteOptions};

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte; invalid
    /// escapes are kept literally), in order.
    pub fn parse(query: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Query { pairs }
    }

    /// Every value of `key`, in order.
    pub fn all<'q>(&'q self, key: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Go's `strconv.ParseBool`; absent is false, anything unparsable a 400.
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(false),
            Some(v) => parse_bool(v)
                .ok_or_else(|| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// `dryRun=All` (any other value is a 400, as upstream).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!(
                "Invalid dry run value: {v}, valid values: All"
            ))),
        }
    }

    pub fn is_watch(&self) -> Result<bool, ApiError> {
        self.bool("watch")
    }

    pub fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let text = self.get("fieldValidation").unwrap_or_default();
        let field_validation = FieldValidation::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {text:?}"
            ))
        })?;
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_validation,
            field_manager: self.get("fieldManager").map(str::to_string),
        })
    }

    pub fn list_options(&self) -> Result<ListOptions, ApiError> {
        let limit = self.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
        let resource_version_match = match self.get("resourceVersionMatch").unwrap_or_default() {
            "" => VersionMatch::Unset,
            "NotOlderThan" => VersionMatch::NotOlderThan,
            "Exact" => VersionMatch::Exact,
            other => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                )));
            }
        };
        Ok(ListOptions {
            label_selector: self.get("labelSelector").unwrap_or_default().to_string(),
            field_selector: self.get("fieldSelector").unwrap_or_default().to_string(),
            limit,
            continue_token: self
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match,
            timeout_seconds: self
                .int("timeoutSeconds")?
                .filter(|t| *t > 0)
                .map(|t| t as u64),
            allow_bookmarks: self.bool("allowWatchBookmarks")?,
        })
    }

    pub fn include_object(&self) -> Result<IncludeObject, ApiError> {
        let text = self.get("includeObject").unwrap_or_default();
        IncludeObject::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "includeObject: Unsupported value: {text:?}: supported values: \"None\", \"Metadata\", \"Object\""
            ))
        })
    }

    pub fn log_options(&self) -> Result<LogOptions, ApiError> {
        Ok(LogOptions {
            container: self
                .get("container")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            follow: self.bool("follow")?,
            previous: self.bool("previous")?,
            timestamps: self.bool("timestamps")?,
            tail_lines: self.int("tailLines")?,
            since_seconds: self.int("sinceSeconds")?,
            since_time: self
                .get("sinceTime")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            limit_bytes: self.int("limitBytes")?,
        })
    }

    pub fn grace_period_seconds(&self) -> Result<Option<i64>, ApiError> {
        self.int("gracePeriodSeconds")
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_percent_decoded() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+(a)&limit=500&watch=1&timeout=32s",
        ));
        let options = q.list_options().unwrap();
        assert_eq!(options.label_selector, "app=web,tier in (a)");
        assert_eq!(options.limit, Some(500));
        assert!(q.is_watch().unwrap());
    }

    #[test]
    fn bad_values_are_bad_requests() {
        assert_eq!(
            Query::parse(Some("watch=maybe"))
                .is_watch()
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            Query::parse(Some("limit=x"))
                .list_options()
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            Query::parse(Some("dryRun=Some"))
                .dry_run()
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            Query::parse(Some("fieldValidation=Loose"))
                .write_options()
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn percent_decoding_is_total() {
        let query = Query::parse(Some("a=a%2&b=%zz&c=%41&d=%&e=x+y&e=z"));
        assert_eq!(query.get("a"), Some("a%2"));
        assert_eq!(query.get("b"), Some("%zz"));
        assert_eq!(query.get("c"), Some("A"));
        assert_eq!(query.get("d"), Some("%"));
        assert_eq!(query.all("e").collect::<Vec<_>>(), ["x y", "z"]);
    }
}
