//! Pulse-level programs, after OpenPulse: waveforms played on ports, with
//! frames that carry frequency and phase.
//!
//! A [`Waveform`] is an envelope described by its shape; it is sampled only
//! when a consumer needs samples ([`Waveform::sample`]), and a constant shape
//! never allocates per sample ([`Waveform::sample_at`]).

use crate::units::{Hertz, Radians};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};

/// A complex envelope, in samples of the device's `dt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Waveform {
    /// A flat envelope.
    Constant {
        /// Length in samples.
        duration: u64,
        /// The complex amplitude (|amp| <= 1).
        amp: Complex64,
    },
    /// A Gaussian centred in the window, lifted so it starts and ends at 0.
    Gaussian {
        /// Length in samples.
        duration: u64,
        /// Peak amplitude.
        amp: Complex64,
        /// Standard deviation in samples.
        sigma: f64,
    },
    /// A flat top of `width` samples with Gaussian rise and fall.
    GaussianSquare {
        /// Length in samples.
        duration: u64,
        /// Peak amplitude.
        amp: Complex64,
        /// Standard deviation of the edges, in samples.
        sigma: f64,
        /// Flat-top length in samples.
        width: u64,
    },
    /// A Gaussian with a derivative quadrature component (DRAG) to cancel
    /// leakage: `g(t) + i beta g'(t)`.
    Drag {
        /// Length in samples.
        duration: u64,
        /// Peak amplitude.
        amp: Complex64,
        /// Standard deviation in samples.
        sigma: f64,
        /// The DRAG coefficient.
        beta: f64,
    },
    /// Arbitrary samples.
    Samples(Vec<Complex64>),
}

impl Waveform {
    /// Length in samples.
    #[must_use]
    pub fn duration(&self) -> u64 {
        match self {
            Self::Constant { duration, .. }
            | Self::Gaussian { duration, .. }
            | Self::GaussianSquare { duration, .. }
            | Self::Drag { duration, .. } => *duration,
            Self::Samples(s) => s.len() as u64,
        }
    }

    /// The envelope at sample `k` (0 outside the window).
    #[must_use]
    pub fn sample_at(&self, k: u64) -> Complex64 {
        let zero = Complex64::new(0.0, 0.0);
        if k >= self.duration() {
            return zero;
        }
        let lifted_gaussian = |t: f64, center: f64, sigma: f64, half_width: f64| -> f64 {
            let g = |x: f64| (-0.5 * ((x - center) / sigma).powi(2)).exp();
            let edge = g(center - half_width - 1.0);
            (g(t) - edge) / (1.0 - edge)
        };
        match self {
            Self::Constant { amp, .. } => *amp,
            Self::Gaussian { duration, amp, sigma } => {
                let c = *duration as f64 / 2.0;
                amp * lifted_gaussian(k as f64, c, *sigma, c)
            }
            Self::GaussianSquare { duration, amp, sigma, width } => {
                let rise = (*duration - (*width).min(*duration)) as f64 / 2.0;
                let t = k as f64;
                if t >= rise && t < rise + *width as f64 {
                    *amp
                } else {
                    let center = if t < rise { rise } else { rise + *width as f64 };
                    amp * lifted_gaussian(t, center, *sigma, rise)
                }
            }
            Self::Drag { duration, amp, sigma, beta } => {
                let c = *duration as f64 / 2.0;
                let t = k as f64;
                let g = lifted_gaussian(t, c, *sigma, c);
                let dg = -(t - c) / (sigma * sigma) * (-0.5 * ((t - c) / sigma).powi(2)).exp();
                amp * Complex64::new(g, beta * dg)
            }
            Self::Samples(s) => s[k as usize],
        }
    }

    /// Every sample of the envelope.
    #[must_use]
    pub fn sample(&self) -> Vec<Complex64> {
        (0..self.duration()).map(|k| self.sample_at(k)).collect()
    }
}

/// The role of a port, i.e. which instrument channel it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PortKind {
    /// Drives a qubit's transition.
    Drive,
    /// Drives a coupler or a cross-resonance interaction.
    Control,
    /// Plays the readout tone.
    Measure,
    /// Records the readout signal.
    Acquire,
}

/// A channel a schedule plays on, e.g. drive of qubit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Port {
    /// What the port does.
    pub kind: PortKind,
    /// The qubit (or coupler) index it belongs to.
    pub index: u32,
}

/// A rotating frame: the carrier a waveform is modulated onto.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The frame's name, unique in a schedule.
    pub name: String,
    /// The carrier frequency.
    pub frequency: Hertz,
    /// The accumulated phase.
    pub phase: Radians,
}

/// One instruction of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PulseInstruction {
    /// Play `waveform` on `port` in `frame`.
    Play {
        /// Where.
        port: Port,
        /// In which frame (index into [`Schedule::frames`]).
        frame: usize,
        /// What.
        waveform: Waveform,
    },
    /// Idle `port` for `duration` samples.
    Delay {
        /// Where.
        port: Port,
        /// How long, in samples.
        duration: u64,
    },
    /// Add to a frame's phase.
    ShiftPhase {
        /// Which frame.
        frame: usize,
        /// By how much.
        phase: Radians,
    },
    /// Set a frame's phase.
    SetPhase {
        /// Which frame.
        frame: usize,
        /// To what.
        phase: Radians,
    },
    /// Add to a frame's frequency.
    ShiftFrequency {
        /// Which frame.
        frame: usize,
        /// By how much.
        frequency: Hertz,
    },
    /// Set a frame's frequency.
    SetFrequency {
        /// Which frame.
        frame: usize,
        /// To what.
        frequency: Hertz,
    },
    /// Record `duration` samples on an acquire port into classical bit `clbit`.
    Acquire {
        /// Where.
        port: Port,
        /// How long, in samples.
        duration: u64,
        /// The classical bit the discriminated result goes to.
        clbit: u32,
    },
    /// Align the listed ports: none starts its next instruction before all
    /// have finished their previous ones.
    Barrier {
        /// The ports aligned.
        ports: Vec<Port>,
    },
}

/// A timed pulse program: instructions with start times in samples of `dt`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schedule {
    /// The frames instructions refer to.
    pub frames: Vec<Frame>,
    /// `(start sample, instruction)`, sorted by start.
    pub instructions: Vec<(u64, PulseInstruction)>,
    /// The number of classical bits written by acquisitions.
    pub num_clbits: u32,
}

impl Schedule {
    /// The sample at which the last instruction ends.
    #[must_use]
    pub fn duration(&self) -> u64 {
        self.instructions
            .iter()
            .map(|(t, i)| {
                t + match i {
                    PulseInstruction::Play { waveform, .. } => waveform.duration(),
                    PulseInstruction::Delay { duration, .. }
                    | PulseInstruction::Acquire { duration, .. } => *duration,
                    _ => 0,
                }
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_waveform_is_flat_without_samples() {
        let w = Waveform::Constant { duration: 1 << 40, amp: Complex64::new(0.5, 0.0) };
        assert_eq!(w.sample_at(12345), Complex64::new(0.5, 0.0));
        assert_eq!(w.sample_at(1 << 40), Complex64::new(0.0, 0.0));
    }

    #[test]
    fn gaussian_peaks_at_center_and_vanishes_at_edges() {
        let w = Waveform::Gaussian { duration: 160, amp: Complex64::new(1.0, 0.0), sigma: 40.0 };
        assert!((w.sample_at(80).re - 1.0).abs() < 1e-12);
        assert!(w.sample_at(0).re.abs() < 0.02);
        let s = w.sample();
        assert_eq!(s.len(), 160);
    }

    #[test]
    fn gaussian_square_has_flat_top() {
        let w = Waveform::GaussianSquare {
            duration: 200,
            amp: Complex64::new(0.3, 0.0),
            sigma: 10.0,
            width: 120,
        };
        assert_eq!(w.sample_at(100), Complex64::new(0.3, 0.0));
        assert!(w.sample_at(5).re < 0.3);
    }

    #[test]
    fn schedule_duration_is_last_end() {
        let port = Port { kind: PortKind::Drive, index: 0 };
        let s = Schedule {
            frames: vec![],
            instructions: vec![
                (0, PulseInstruction::Delay { port, duration: 10 }),
                (10, PulseInstruction::Delay { port, duration: 5 }),
            ],
            num_clbits: 0,
        };
        assert_eq!(s.duration(), 15);
    }
}
