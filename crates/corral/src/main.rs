//! The `corral` binary: a command table over the drivers.
fn main() {
    println!("corral {}", env!("CARGO_PKG_VERSION"));
}
