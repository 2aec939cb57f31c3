//! A stand-alone `corral-sim` binary for development and benchmarks; the product command
//! is `corral sim` (same arguments, same code).

use clap::Parser;

#[derive(Parser)]
#[command(name = "corral-sim", version)]
struct Cli {
    #[command(flatten)]
    args: corral_sim::SimArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match corral_sim::cli::run(cli.args) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::from(2)
        }
    }
}
