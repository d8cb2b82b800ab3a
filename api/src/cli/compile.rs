//! `eigen compile` and `eigen validate`, through the CompilationService.
//!
//! A program that does not compile comes back as INVALID_ARGUMENT carrying
//! its diagnostics; both commands print them as `file:line:col: error: ...`
//! lines so an editor can jump to each place.

use super::client::{Api, ClientOpts};
use super::convert::{diagnostic, format_name, program_diagnostics, seconds, stats_json};
use super::output::{errln, outln};
use super::program::{ProgramFile, count_errors};
use anyhow::bail;
use clap::Args;
use eigen_kernel::compiler::{Diagnostic, ProgramFormat};
use eigen_proto::api::v1 as pb;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use tonic::Code;

/// Arguments of `eigen compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The OpenQASM 2 or 3 program.
    pub file: PathBuf,
    /// The device id to compile for.
    #[arg(long, short = 't')]
    pub target: String,
    /// Optimization level, 0 (none) to 3.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub level: u8,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

/// Arguments of `eigen validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The OpenQASM 2 or 3 program.
    pub file: PathBuf,
    /// Also check against this device's gate set and limits.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Server and output options.
    #[command(flatten)]
    pub client: ClientOpts,
}

fn proto_format(format: ProgramFormat) -> i32 {
    match format {
        ProgramFormat::OpenQasm2 => pb::ProgramFormat::Openqasm2 as i32,
        ProgramFormat::OpenQasm3 => pb::ProgramFormat::Openqasm3 as i32,
        ProgramFormat::Detect => pb::ProgramFormat::Unspecified as i32,
    }
}

fn diagnostics_json(program: &ProgramFile, diags: &[Diagnostic]) -> serde_json::Value {
    diags
        .iter()
        .map(|d| {
            json!({
                "severity": if d.severity == eigen_kernel::compiler::Severity::Error { "error" } else { "warning" },
                "line": d.line,
                "column": d.column,
                "message": d.message,
                "snippet": d.snippet,
                "text": program.diagnostic_line(d),
            })
        })
        .collect()
}

/// `eigen compile FILE --target ID`.
pub async fn compile(args: CompileArgs) -> anyhow::Result<()> {
    let program = ProgramFile::read(&args.file)?;
    let mut api = Api::connect(&args.client).await?;
    let request = pb::CompileCircuitRequest {
        program: program.source.clone(),
        format: proto_format(program.format),
        target: args.target.clone(),
        compiler_options: HashMap::from([(
            "optimization_level".to_owned(),
            args.level.to_string(),
        )]),
    };
    let r = match api.compiler.compile_circuit(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => {
            if let Some(diags) = program_diagnostics(&status) {
                program.eprint_diagnostics(&diags);
            }
            return Err(status.into());
        }
    };
    let warnings: Vec<Diagnostic> = r.diagnostics.iter().map(diagnostic).collect();
    if args.client.json {
        let v = json!({
            "target": args.target,
            "program": r.compiled_program,
            "stats": stats_json(r.stats.as_ref()),
            "final_layout": r.final_layout,
            "diagnostics": diagnostics_json(&program, &warnings),
            "calibration_id": r.calibration_id,
            "compiler_version": r.compiler_version,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    for w in &warnings {
        errln!("{}", program.diagnostic_line(w));
    }
    outln!(
        "// {} compiled for {} (compiler {})",
        program.display_name(),
        args.target,
        r.compiler_version
    )?;
    if let Some(s) = &r.stats {
        let mut gates: Vec<(&String, &u64)> = s.gate_counts.iter().collect();
        gates.sort();
        let gates: Vec<String> = gates.iter().map(|(g, n)| format!("{g}={n}")).collect();
        outln!(
            "// depth {}  2q gates {}  swaps {}  gates {}",
            s.depth,
            s.two_qubit_gates,
            s.swaps,
            gates.join(" ")
        )?;
        let duration = seconds(s.estimated_duration.as_ref())
            .map_or_else(|| "-".to_owned(), |d| format!("{:.2} µs", d * 1e6));
        outln!(
            "// estimated duration {duration}  success probability {:.4}",
            s.estimated_success_probability
        )?;
    }
    if !r.final_layout.is_empty() {
        let layout: Vec<String> =
            r.final_layout.iter().enumerate().map(|(v, p)| format!("q{v}->{p}")).collect();
        outln!("// final layout {}", layout.join(" "))?;
    }
    outln!("{}", r.compiled_program.trim_end())?;
    Ok(())
}

/// `eigen validate FILE [--target ID]`: non-zero exit when there are errors.
pub async fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let program = ProgramFile::read(&args.file)?;
    let mut api = Api::connect(&args.client).await?;
    let request = pb::ValidateCircuitRequest {
        program: program.source.clone(),
        format: proto_format(program.format),
        target: args.target.clone().unwrap_or_default(),
    };
    let (diags, summary) = match api.compiler.validate_circuit(request).await {
        Ok(r) => {
            let r = r.into_inner();
            let diags: Vec<Diagnostic> = r.diagnostics.iter().map(diagnostic).collect();
            let summary = format!(
                "{}, {} qubits, {} clbits",
                format_name(r.format).replace("OPENQASM", "OpenQASM "),
                r.num_qubits,
                r.num_clbits
            );
            (diags, Some(summary))
        }
        Err(status) if status.code() == Code::InvalidArgument => {
            match program_diagnostics(&status) {
                Some(diags) => (diags, None),
                // A bad request that is not about the program (e.g. its size).
                None => return Err(status.into()),
            }
        }
        Err(status) => return Err(status.into()),
    };
    let errors = count_errors(&diags);
    if args.client.json {
        let v = json!({
            "file": program.display_name(),
            "valid": errors == 0,
            "diagnostics": diagnostics_json(&program, &diags),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for d in &diags {
            outln!("{}", program.diagnostic_line(d))?;
        }
    }
    if errors > 0 {
        bail!("{}: {errors} error(s)", program.display_name());
    }
    if !args.client.json {
        let warnings = diags.len();
        outln!(
            "{}: ok ({}{})",
            program.display_name(),
            summary.unwrap_or_default(),
            if warnings > 0 { format!(", {warnings} warning(s)") } else { String::new() }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
