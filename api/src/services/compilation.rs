//! `CompilationService`: compile, optimize and check programs without
//! running them; a thin proxy to the kernel's compiler (RFC 0004).
//!
//! Compilation is CPU-bound, so it runs on the blocking pool, never on the
//! async workers that serve other calls.

use super::Shared;
use crate::auth::context;
use crate::convert;
use crate::error;
use eigen_hal::Target;
use eigen_kernel::compiler::{
    self, CompileOptions, Compiled, Diagnostic, ProgramFormat, Severity, qasm::ParseLimits,
};
use eigen_kernel::gateway::{KernelError, RequestContext};
use eigen_proto::api::v1 as pb;
use pb::compilation_service_server::CompilationService;
use std::collections::HashMap;
use tonic::{Request, Response, Status};

/// The highest `optimization_level`.
const MAX_OPTIMIZATION_LEVEL: u8 = 3;

/// The `CompilationService` implementation.
#[derive(Debug, Clone)]
pub struct CompilationApi {
    shared: Shared,
}

impl CompilationApi {
    /// A service over `shared`.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// The target of device `raw_id`, or NOT_FOUND.
    async fn target(&self, ctx: &RequestContext, raw_id: &str) -> Result<Target, Status> {
        let id = convert::id_field(raw_id, "target")?;
        let devices = self.shared.gateway.list_devices(ctx).await.map_err(error::kernel)?;
        devices.into_iter().map(|d| d.target).find(|t| t.id == id).ok_or_else(|| {
            error::kernel(KernelError::NotFound { resource_type: "device", name: id.to_owned() })
        })
    }
}

/// Compile options from a request's `compiler_options`; unknown keys and bad
/// values are INVALID_ARGUMENT naming `compiler_options.<key>`.
pub fn compile_options(
    raw: &HashMap<String, String>,
    default_level: u8,
) -> Result<CompileOptions, Status> {
    let mut options = CompileOptions { optimization_level: default_level };
    for (key, value) in raw {
        match key.as_str() {
            "optimization_level" => {
                options.optimization_level = value
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= MAX_OPTIMIZATION_LEVEL)
                    .ok_or_else(|| {
                        error::invalid_argument(
                            "compiler_options.optimization_level",
                            "must be 0, 1, 2 or 3",
                        )
                    })?;
            }
            other => {
                return Err(error::invalid_argument(
                    &format!("compiler_options.{other}"),
                    "unknown option; known: optimization_level",
                ));
            }
        }
    }
    Ok(options)
}

/// Runs CPU-bound compiler work on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| error::kernel(KernelError::Internal(format!("compiler task failed: {e}"))))
}

fn program_error(diagnostics: Vec<Diagnostic>) -> Status {
    error::kernel(KernelError::InvalidProgram(diagnostics))
}

fn warnings(d: &[Diagnostic]) -> Vec<pb::Diagnostic> {
    d.iter().map(convert::diagnostic_to_pb).collect()
}

#[tonic::async_trait]
impl CompilationService for CompilationApi {
    async fn compile_circuit(
        &self,
        request: Request<pb::CompileCircuitRequest>,
    ) -> Result<Response<pb::CompileCircuitResponse>, Status> {
        let ctx = context(&request)?;
        let r = request.into_inner();
        convert::program(&r.program, self.shared.limits.max_program_bytes)?;
        let format = convert::program_format_from_pb(r.format, "format")?;
        let options =
            compile_options(&r.compiler_options, CompileOptions::default().optimization_level)?;
        let target = self.target(&ctx, &r.target).await?;
        let calibration_id = target.calibration_id.clone();
        let compiled: Compiled =
            blocking(move || compiler::compile(&r.program, format, &target, &options))
                .await?
                .map_err(program_error)?;
        Ok(Response::new(pb::CompileCircuitResponse {
            compiled_program: compiled.program,
            stats: Some(convert::compile_stats_to_pb(&compiled.stats)),
            diagnostics: warnings(&compiled.warnings),
            final_layout: compiled.final_layout,
            calibration_id,
            compiler_version: compiler::COMPILER_VERSION.to_owned(),
        }))
    }

    async fn optimize_circuit(
        &self,
        request: Request<pb::OptimizeCircuitRequest>,
    ) -> Result<Response<pb::OptimizeCircuitResponse>, Status> {
        let ctx = context(&request)?;
        let r = request.into_inner();
        convert::program(&r.program, self.shared.limits.max_program_bytes)?;
        let format = convert::program_format_from_pb(r.format, "format")?;
        let options = compile_options(&r.compiler_options, MAX_OPTIMIZATION_LEVEL)?;
        let target =
            if r.target.is_empty() { None } else { Some(self.target(&ctx, &r.target).await?) };
        let (original, optimized) = blocking(move || {
            let t = target.as_ref();
            let original = compiler::optimize(
                &r.program,
                format,
                t,
                &CompileOptions { optimization_level: 0 },
            )?;
            let optimized = compiler::optimize(&r.program, format, t, &options)?;
            Ok::<_, Vec<Diagnostic>>((original, optimized))
        })
        .await?
        .map_err(program_error)?;
        Ok(Response::new(pb::OptimizeCircuitResponse {
            optimized_program: optimized.program,
            original_stats: Some(convert::compile_stats_to_pb(&original.stats)),
            optimized_stats: Some(convert::compile_stats_to_pb(&optimized.stats)),
            diagnostics: warnings(&optimized.warnings),
            compiler_version: compiler::COMPILER_VERSION.to_owned(),
        }))
    }

    async fn validate_circuit(
        &self,
        request: Request<pb::ValidateCircuitRequest>,
    ) -> Result<Response<pb::ValidateCircuitResponse>, Status> {
        let ctx = context(&request)?;
        let r = request.into_inner();
        convert::program(&r.program, self.shared.limits.max_program_bytes)?;
        let format = convert::program_format_from_pb(r.format, "format")?;
        let target =
            if r.target.is_empty() { None } else { Some(self.target(&ctx, &r.target).await?) };
        let (parsed, diagnostics) = blocking(move || {
            let parsed = compiler::qasm::parse(&r.program, format, &ParseLimits::default())?;
            let diagnostics = compiler::validate(&r.program, format, target.as_ref());
            Ok::<_, Vec<Diagnostic>>((parsed, diagnostics))
        })
        .await?
        .map_err(program_error)?;
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(program_error(diagnostics));
        }
        let format = match parsed.format {
            ProgramFormat::Detect => ProgramFormat::OpenQasm3,
            f => f,
        };
        Ok(Response::new(pb::ValidateCircuitResponse {
            format: convert::program_format_to_pb(format) as i32,
            num_qubits: parsed.circuit.num_qubits,
            num_clbits: parsed.circuit.num_clbits,
            diagnostics: warnings(&diagnostics),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn options_are_checked() {
        let m = |k: &str, v: &str| HashMap::from([(k.to_owned(), v.to_owned())]);
        assert_eq!(compile_options(&HashMap::new(), 1).expect("empty").optimization_level, 1);
        assert_eq!(
            compile_options(&m("optimization_level", "3"), 1).expect("3").optimization_level,
            3
        );
        for bad in [m("optimization_level", "4"), m("optimization_level", "x"), m("speed", "1")] {
            assert_eq!(
                compile_options(&bad, 1).map_err(|s| s.code()).err(),
                Some(Code::InvalidArgument)
            );
        }
    }
}
