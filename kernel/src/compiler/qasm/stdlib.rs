//! The built-in include files, held in memory: includes are never read from
//! disk.
//!
//! `qelib1.inc` is Qiskit's current version (the 2017 file plus `u`, `p`,
//! `sx`, `sxdg`, `cp`, `csx`, `cu`, `rxx`, `rzz`, `c3x`, `c4x`, ...);
//! `stdgates.inc` is OpenQASM 3's standard library. Gates with an exact
//! counterpart among [`eigen_hal::Gate`] map to it directly; the two
//! relative-phase Toffolis, which have none, are defined in OpenQASM source
//! exactly as in `qelib1.inc` and parsed like user definitions.

use eigen_hal::Gate;
use num_complex::Complex64;
use std::f64::consts::FRAC_PI_2;

/// A gate with a direct counterpart among the hal's gates.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The gate's name in the program.
    pub name: &'static str,
    /// Angle parameters.
    pub params: usize,
    /// Qubit operands.
    pub qubits: usize,
    /// Builds the gate from evaluated parameters (exactly `params` of them).
    pub make: fn(&[f64]) -> Gate,
}

macro_rules! b {
    ($name:literal, $p:literal, $q:literal, $make:expr) => {
        Builtin { name: $name, params: $p, qubits: $q, make: $make }
    };
}

fn sx_matrix() -> Box<[Complex64; 4]> {
    let m = Gate::Sx.matrix(1);
    Box::new([m[0], m[1], m[2], m[3]])
}

/// Gates every program has: `U`, `CX` (OpenQASM 2's primitives; OpenQASM 3's
/// `U`). `gphase` is handled by the lowering.
pub const PRIMITIVES: &[Builtin] =
    &[b!("U", 3, 1, |p| Gate::U(p[0], p[1], p[2])), b!("CX", 0, 2, |_| Gate::Cx)];

/// The gates of Qiskit's current `qelib1.inc` with a direct counterpart.
pub const QELIB1: &[Builtin] = &[
    b!("u3", 3, 1, |p| Gate::U(p[0], p[1], p[2])),
    b!("u2", 2, 1, |p| Gate::U(FRAC_PI_2, p[0], p[1])),
    b!("u1", 1, 1, |p| Gate::P(p[0])),
    b!("cx", 0, 2, |_| Gate::Cx),
    b!("id", 0, 1, |_| Gate::I),
    b!("u0", 1, 1, |_| Gate::I),
    b!("u", 3, 1, |p| Gate::U(p[0], p[1], p[2])),
    b!("p", 1, 1, |p| Gate::P(p[0])),
    b!("x", 0, 1, |_| Gate::X),
    b!("y", 0, 1, |_| Gate::Y),
    b!("z", 0, 1, |_| Gate::Z),
    b!("h", 0, 1, |_| Gate::H),
    b!("s", 0, 1, |_| Gate::S),
    b!("sdg", 0, 1, |_| Gate::Sdg),
    b!("t", 0, 1, |_| Gate::T),
    b!("tdg", 0, 1, |_| Gate::Tdg),
    b!("rx", 1, 1, |p| Gate::Rx(p[0])),
    b!("ry", 1, 1, |p| Gate::Ry(p[0])),
    b!("rz", 1, 1, |p| Gate::Rz(p[0])),
    b!("sx", 0, 1, |_| Gate::Sx),
    b!("sxdg", 0, 1, |_| Gate::Sxdg),
    b!("cz", 0, 2, |_| Gate::Cz),
    b!("cy", 0, 2, |_| Gate::Cy),
    b!("swap", 0, 2, |_| Gate::Swap),
    b!("ch", 0, 2, |_| Gate::Ch),
    b!("ccx", 0, 3, |_| Gate::Ccx),
    b!("cswap", 0, 3, |_| Gate::Cswap),
    b!("crx", 1, 2, |p| Gate::Crx(p[0])),
    b!("cry", 1, 2, |p| Gate::Cry(p[0])),
    b!("crz", 1, 2, |p| Gate::Crz(p[0])),
    b!("cu1", 1, 2, |p| Gate::Cp(p[0])),
    b!("cp", 1, 2, |p| Gate::Cp(p[0])),
    b!("cu3", 3, 2, |p| Gate::Cu(p[0], p[1], p[2], 0.0)),
    b!("csx", 0, 2, |_| Gate::Csx),
    b!("cu", 4, 2, |p| Gate::Cu(p[0], p[1], p[2], p[3])),
    b!("rxx", 1, 2, |p| Gate::Rxx(p[0])),
    b!("rzz", 1, 2, |p| Gate::Rzz(p[0])),
    b!("c3x", 0, 4, |_| Gate::Mcx),
    b!("c3sqrtx", 0, 4, |_| Gate::Mcu(sx_matrix())),
    b!("c4x", 0, 5, |_| Gate::Mcx),
];

/// The 23 gates of the original (2017) `qelib1.inc`. Programs written
/// against that file (by older tools) define the later additions (`sx`,
/// `cp`, `swap`, ...) themselves; such a definition replaces the built-in
/// one instead of being an error, as in Qiskit's importer.
pub const QELIB1_ORIGINAL: &[&str] = &[
    "u3", "u2", "u1", "cx", "id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "rx", "ry", "rz",
    "cz", "cy", "ch", "ccx", "crz", "cu1", "cu3",
];

/// The gates of `qelib1.inc` without a direct counterpart, verbatim.
pub const QELIB1_DEFINITIONS: &str = "
gate rccx a,b,c
{
  u2(0,pi) c;
  u1(pi/4) c;
  cx b, c;
  u1(-pi/4) c;
  cx a, c;
  u1(pi/4) c;
  cx b, c;
  u1(-pi/4) c;
  u2(0,pi) c;
}
gate rc3x a,b,c,d
{
  u2(0,pi) d;
  u1(pi/4) d;
  cx c,d;
  u1(-pi/4) d;
  u2(0,pi) d;
  cx a,d;
  u1(pi/4) d;
  cx b,d;
  u1(-pi/4) d;
  cx a,d;
  u1(pi/4) d;
  cx b,d;
  u1(-pi/4) d;
  u2(0,pi) d;
  u1(pi/4) d;
  cx c,d;
  u1(-pi/4) d;
  u2(0,pi) d;
}
";

/// The gates of OpenQASM 3's `stdgates.inc`.
///
/// `u2` and `u3` map to `U` without the global phase the specification's
/// file adds, as Qiskit's importer and exporter do, so programs round-trip
/// with Qiskit even under `ctrl @`.
pub const STDGATES: &[Builtin] = &[
    b!("p", 1, 1, |p| Gate::P(p[0])),
    b!("x", 0, 1, |_| Gate::X),
    b!("y", 0, 1, |_| Gate::Y),
    b!("z", 0, 1, |_| Gate::Z),
    b!("h", 0, 1, |_| Gate::H),
    b!("s", 0, 1, |_| Gate::S),
    b!("sdg", 0, 1, |_| Gate::Sdg),
    b!("t", 0, 1, |_| Gate::T),
    b!("tdg", 0, 1, |_| Gate::Tdg),
    b!("sx", 0, 1, |_| Gate::Sx),
    b!("rx", 1, 1, |p| Gate::Rx(p[0])),
    b!("ry", 1, 1, |p| Gate::Ry(p[0])),
    b!("rz", 1, 1, |p| Gate::Rz(p[0])),
    b!("cx", 0, 2, |_| Gate::Cx),
    b!("cy", 0, 2, |_| Gate::Cy),
    b!("cz", 0, 2, |_| Gate::Cz),
    b!("cp", 1, 2, |p| Gate::Cp(p[0])),
    b!("crx", 1, 2, |p| Gate::Crx(p[0])),
    b!("cry", 1, 2, |p| Gate::Cry(p[0])),
    b!("crz", 1, 2, |p| Gate::Crz(p[0])),
    b!("ch", 0, 2, |_| Gate::Ch),
    b!("swap", 0, 2, |_| Gate::Swap),
    b!("ccx", 0, 3, |_| Gate::Ccx),
    b!("cswap", 0, 3, |_| Gate::Cswap),
    b!("cu", 4, 2, |p| Gate::Cu(p[0], p[1], p[2], p[3])),
    b!("CX", 0, 2, |_| Gate::Cx),
    b!("phase", 1, 1, |p| Gate::P(p[0])),
    b!("cphase", 1, 2, |p| Gate::Cp(p[0])),
    b!("id", 0, 1, |_| Gate::I),
    b!("u1", 1, 1, |p| Gate::P(p[0])),
    b!("u2", 2, 1, |p| Gate::U(FRAC_PI_2, p[0], p[1])),
    b!("u3", 3, 1, |p| Gate::U(p[0], p[1], p[2])),
];

/// The built-in include files by name: direct gates and definitions.
#[must_use]
pub fn include(name: &str) -> Option<(&'static [Builtin], &'static str)> {
    match name {
        "qelib1.inc" => Some((QELIB1, QELIB1_DEFINITIONS)),
        "stdgates.inc" => Some((STDGATES, "")),
        _ => None,
    }
}
