//! The `turnover` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // libxgboost runs single-threaded here (`nthread` 1 per scoring thread), but OpenMP still
    // starts a thread per core at its first call and, by default, spins them between calls:
    // measured 164 → 109 ms for `turnover score`. Set before any thread exists; an operator's
    // own values win.
    for (key, value) in [("OMP_NUM_THREADS", "1"), ("OMP_WAIT_POLICY", "passive")] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    let cli = turnover::commands::Cli::parse();
    match turnover::commands::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            // A configuration that cannot be read is the caller's mistake, as a usage error is
            // (docs/contract.md#command-line): a script or an orchestrator can tell it apart.
            if error
                .downcast_ref::<turnover::config::ConfigError>()
                .is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
