//! Writes the made-up example extract (`target/example-extracts/`) with the project's own extract
//! writer: `cargo run --example write_extracts -- target/example-extracts [SEED] [EMPLOYEES]`.

use std::path::PathBuf;

use turnover::extracts::{labelled_population, write_dir, EXAMPLE_EMPLOYEES, EXAMPLE_SEED};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "target/example-extracts".to_owned()),
    );
    let seed = args.next().map_or(Ok(EXAMPLE_SEED), |s| s.parse())?;
    let employees = args.next().map_or(Ok(EXAMPLE_EMPLOYEES), |s| s.parse())?;
    write_dir(&dir, &labelled_population(seed, employees))?;
    println!(
        "wrote {employees} made-up employees (seed {seed}) to {}",
        dir.display()
    );
    Ok(())
}
