//! The pieces every printer is made of: [`Column`] (a column definition as a `const`),
//! [`Cells`] (one row's cells and conditions) and [`Printer`] (columns plus the function that
//! fills a row), with the columns most printers share.
//!
//! A printer's columns and its cell function live side by side in one module, so the order
//! of cells cannot drift from the order of columns without the per-resource tests noticing.

use corral_api::KubeObject;
use corral_api::meta_types::{TableColumnDefinition, TableRowCondition};
use jiff::Timestamp;
use serde_json::Value;

use crate::descriptions;

/// One column, written like upstream's `metav1.TableColumnDefinition` literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Upstream's spelling; kubectl prints it upper-cased.
    pub name: &'static str,
    /// `string`, `integer`, `boolean`, `date`, ...
    pub type_: &'static str,
    /// `name` for the object-name column, else empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0 = always shown, 1 = shown with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// A priority-0 string column.
    pub const fn string(name: &'static str, description: &'static str) -> Column {
        Column {
            name,
            type_: "string",
            format: "",
            description,
            priority: 0,
        }
    }

    /// A priority-0 column of another type.
    pub const fn typed(
        name: &'static str,
        type_: &'static str,
        description: &'static str,
    ) -> Column {
        Column {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    /// The same column, shown only with `-o wide`.
    pub const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }

    pub fn definition(&self) -> TableColumnDefinition {
        TableColumnDefinition::new(
            self.name,
            self.type_,
            self.format,
            self.description,
            self.priority,
        )
    }
}

/// `{Name: "Name", Type: "string", Format: "name", Description: ObjectMeta name}`.
pub const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: descriptions::OBJECT_META_NAME,
    priority: 0,
};

/// `{Name: "Age", Type: "string", Description: ObjectMeta creationTimestamp}`.
pub const AGE: Column = Column::string("Age", descriptions::OBJECT_META_CREATION_TIMESTAMP);

/// The wide `Containers` column of workload printers.
pub const CONTAINERS: Column =
    Column::string("Containers", "Names of each container in the template.").wide();

/// The wide `Images` column of workload printers.
pub const IMAGES: Column = Column::string(
    "Images",
    "Images referenced by each container in the template.",
)
.wide();

/// The cells and row conditions of one Table row (without its embedded object).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cells {
    pub cells: Vec<Value>,
    pub conditions: Vec<TableRowCondition>,
}

impl Cells {
    pub fn new(cells: Vec<Value>) -> Cells {
        Cells {
            cells,
            conditions: Vec::new(),
        }
    }
}

/// Fills one row from an object and the current time; `None` when the object is not of the
/// printer's kind (a caller's mistake, answered with placeholder cells rather than a panic).
pub type CellsFn = fn(&KubeObject, Timestamp) -> Option<Cells>;

/// A resource's columns (all of them, wide ones included) and its row function.
#[derive(Clone, Copy)]
pub struct Printer {
    pub columns: &'static [Column],
    pub cells: CellsFn,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        f.debug_struct("Printer").field("columns", &names).finish()
    }
}
