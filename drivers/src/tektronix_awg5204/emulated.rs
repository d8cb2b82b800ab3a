//! An emulated AWG5204: a waveform list, four outputs and a sample clock.

use super::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, OUTPUTS};
use crate::emulator::{
    Arg, EmulatedInstrument, HeaderPattern, Reply, Request, bad_parameter, out_of_range,
    undefined_header,
};
use crate::scpi::ErrorEntry;
use eigen_hal::instrument::Identity;
use std::collections::BTreeMap;

/// The state of an emulated AWG5204.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatedAwg5204 {
    /// The waveform list: name -> samples.
    pub waveforms: BTreeMap<String, Vec<f32>>,
    /// The waveform assigned to each output (index 0 = output 1).
    pub assigned: [Option<String>; OUTPUTS as usize],
    /// Each output's state (index 0 = output 1).
    pub outputs: [bool; OUTPUTS as usize],
    /// The sample rate in hertz.
    pub sample_rate_hz: f64,
    patterns: Patterns,
}

#[derive(Debug, Clone, PartialEq)]
struct Patterns {
    list: HeaderPattern,
    new: HeaderPattern,
    delete: HeaderPattern,
    data: HeaderPattern,
    assign: HeaderPattern,
    srate: HeaderPattern,
    output: HeaderPattern,
}

impl Default for EmulatedAwg5204 {
    fn default() -> Self {
        let mut this = Self {
            waveforms: BTreeMap::new(),
            assigned: Default::default(),
            outputs: [false; OUTPUTS as usize],
            sample_rate_hz: 0.0,
            patterns: Patterns {
                list: HeaderPattern::new("WLISt:LIST"),
                new: HeaderPattern::new("WLISt:WAVeform:NEW"),
                delete: HeaderPattern::new("WLISt:WAVeform:DELete"),
                data: HeaderPattern::new("WLISt:WAVeform:DATA"),
                assign: HeaderPattern::new("SOURce:CASSet:WAVeform"),
                srate: HeaderPattern::new("CLOCk:SRATe"),
                output: HeaderPattern::new("OUTPut[:STATe]"),
            },
        };
        this.reset();
        this
    }
}

/// Splits a numeric suffix off the first node: `SOUR2:CASS:WAV` ->
/// (`SOUR:CASS:WAV`, Some(2)).
fn split_suffix(header: &str) -> (String, Option<u32>) {
    let header = header.trim_start_matches(':');
    let (first, rest) = header.split_once(':').map_or((header, ""), |(f, r)| (f, r));
    let stem = first.trim_end_matches(|c: char| c.is_ascii_digit());
    let suffix = first[stem.len()..].parse().ok();
    let joined = if rest.is_empty() { stem.to_owned() } else { format!("{stem}:{rest}") };
    (joined, suffix)
}

fn name_arg(request: &Request, index: usize) -> Result<String, ErrorEntry> {
    request
        .args
        .get(index)
        .and_then(Arg::text)
        .map(|t| t.trim_matches('"').to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad_parameter(request))
}

fn number_arg(request: &Request, index: usize) -> Result<f64, ErrorEntry> {
    request
        .args
        .get(index)
        .and_then(Arg::text)
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad_parameter(request))
}

fn not_found(name: &str) -> ErrorEntry {
    ErrorEntry { code: -224, message: format!("Illegal parameter value;waveform {name} not found") }
}

impl EmulatedAwg5204 {
    fn output_index(request: &Request, n: Option<u32>) -> Result<usize, ErrorEntry> {
        let n = n.unwrap_or(1);
        if (1..=OUTPUTS).contains(&n) {
            Ok((n - 1) as usize)
        } else {
            Err(ErrorEntry {
                code: -114,
                message: format!("Header suffix out of range;{}", request.header),
            })
        }
    }

    fn waveform_data(&mut self, request: &Request) -> Result<Option<Reply>, ErrorEntry> {
        let name = name_arg(request, 0)?;
        if request.query {
            let samples = self.waveforms.get(&name).ok_or_else(|| not_found(&name))?;
            return Ok(Some(Reply::Block(samples.iter().flat_map(|v| v.to_le_bytes()).collect())));
        }
        let (start, size) = (number_arg(request, 1)?, number_arg(request, 2)?);
        let Some(Arg::Block(bytes)) = request.args.get(3) else {
            return Err(bad_parameter(request));
        };
        let samples: Vec<f32> =
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let wave = self.waveforms.get_mut(&name).ok_or_else(|| not_found(&name))?;
        #[allow(clippy::cast_precision_loss, reason = "waveform lengths are far below 2^52")]
        let fits = start == 0.0 && size == samples.len() as f64 && bytes.len().is_multiple_of(4);
        if !fits || samples.len() != wave.len() {
            return Err(ErrorEntry {
                code: -225,
                message: format!("Out of memory;data does not fit {name}"),
            });
        }
        if samples.iter().any(|v| !(-1.0..=1.0).contains(v)) {
            return Err(out_of_range("sample beyond full scale"));
        }
        *wave = samples;
        Ok(None)
    }
}

impl EmulatedInstrument for EmulatedAwg5204 {
    fn identity(&self) -> Identity {
        Identity {
            vendor: "TEKTRONIX".into(),
            model: "AWG5204".into(),
            serial: "B010000".into(),
            firmware: "FV:6.6.0131.0-emulated".into(),
        }
    }

    fn reset(&mut self) {
        // *RST keeps the waveform list and clears assignments and outputs.
        self.assigned = Default::default();
        self.outputs = [false; OUTPUTS as usize];
        self.sample_rate_hz = 2.5e9;
    }

    fn handle(&mut self, request: &Request) -> Result<Option<Reply>, ErrorEntry> {
        let (header, suffix) = split_suffix(&request.header);
        let p = &self.patterns;
        if p.list.matches(&header) && request.query {
            let names: Vec<String> = self.waveforms.keys().map(|n| format!("\"{n}\"")).collect();
            return Ok(Some(Reply::Line(if names.is_empty() {
                "\"\"".into()
            } else {
                names.join(",")
            })));
        }
        if p.new.matches(&header) {
            let (name, size) = (name_arg(request, 0)?, number_arg(request, 1)?);
            if self.waveforms.contains_key(&name) {
                return Err(ErrorEntry {
                    code: -224,
                    message: format!("Illegal parameter value;waveform {name} exists"),
                });
            }
            if !(size >= 1.0 && size.fract() == 0.0) {
                return Err(out_of_range("waveform size"));
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked whole and positive"
            )]
            self.waveforms.insert(name, vec![0.0; size as usize]);
            return Ok(None);
        }
        if p.delete.matches(&header) {
            let name = name_arg(request, 0)?;
            self.waveforms.remove(&name).ok_or_else(|| not_found(&name))?;
            for slot in &mut self.assigned {
                if slot.as_deref() == Some(name.as_str()) {
                    *slot = None;
                }
            }
            return Ok(None);
        }
        if p.data.matches(&header) {
            return self.waveform_data(request);
        }
        if p.assign.matches(&header) {
            let index = Self::output_index(request, suffix)?;
            let name = name_arg(request, 0)?;
            if !self.waveforms.contains_key(&name) {
                return Err(not_found(&name));
            }
            self.assigned[index] = Some(name);
            return Ok(None);
        }
        if p.srate.matches(&header) {
            if request.query {
                return Ok(Some(Reply::Line(format!("{}", self.sample_rate_hz))));
            }
            let rate = number_arg(request, 0)?;
            if !(MIN_SAMPLE_RATE.get()..=MAX_SAMPLE_RATE.get()).contains(&rate) {
                return Err(out_of_range(&format!("SRAT {rate}")));
            }
            self.sample_rate_hz = rate;
            return Ok(None);
        }
        if p.output.matches(&header) {
            let index = Self::output_index(request, suffix)?;
            if request.query {
                return Ok(Some(Reply::Line(if self.outputs[index] { "1" } else { "0" }.into())));
            }
            let arg = request.args.first().and_then(Arg::text).map(str::to_ascii_uppercase);
            self.outputs[index] = match arg.as_deref() {
                Some("ON" | "1") => true,
                Some("OFF" | "0") => false,
                _ => return Err(bad_parameter(request)),
            };
            return Ok(None);
        }
        Err(undefined_header(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_suffixes_split_off_the_first_node() {
        assert_eq!(split_suffix("SOUR2:CASS:WAV"), ("SOUR:CASS:WAV".into(), Some(2)));
        assert_eq!(split_suffix(":OUTP4"), ("OUTP".into(), Some(4)));
        assert_eq!(split_suffix("OUTP:STAT"), ("OUTP:STAT".into(), None));
    }
}
