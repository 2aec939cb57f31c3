//! L0: the Kubernetes object model shared by every Corral crate.
//!
//! - [`KubeObject`]/[`ResourceKind`]: one enum over the stored kinds (k8s-openapi types);
//! - [`resource`]: the registry of served resources (what discovery and routing need);
//! - [`ObjectKey`], [`Revision`], [`Uid`]: identity newtypes;
//! - [`selector`] and [`fields`]: label and field selectors;
//! - [`quantity`]: resource quantities with exact arithmetic;
//! - [`status`] and [`validation`]: typed API errors worded as upstream's.
//!
//! This crate depends on serde and k8s-openapi only: no I/O, no clock, no randomness.

pub mod fields;
pub mod ids;
pub mod meta_types;
pub mod object;
pub mod quantity;
pub mod resource;
pub mod selector;
pub mod status;
pub mod validation;

pub use ids::{Revision, Uid};
pub use object::{DecodeError, KubeObject, ObjectKey, ResourceKind, TypedObject};
pub use quantity::Quantity;
pub use resource::{Backing, ResourceInfo};
pub use selector::{FieldSelector, LabelSelector};
pub use status::{ApiError, GroupResource, StatusReason};
pub use validation::{FieldError, FieldErrorType, FieldPath};

/// Re-export so dependents name one version of the generated types.
pub use k8s_openapi;
