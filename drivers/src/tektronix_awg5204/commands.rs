//! The AWG5204's own wire commands (Tektronix AWG5200 series programmer
//! manual: WLISt, SOURce:CASSet, CLOCk, OUTPut), each a typed value.

use crate::error::DriverError;
use crate::scpi::block;
use crate::scpi::command::{
    Command, ReplyShape, bad_reply, parse_bool, parse_number, query, setting,
};
use eigen_hal::units::Hertz;

/// `WLIST:LIST?`: the names of the waveforms in the waveform list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListWaveforms;

impl Command for ListWaveforms {
    type Reply = Vec<String>;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"WLIST:LIST?");
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Line
    }
    /// `"a","b"` (or `""` / nothing for an empty list).
    fn parse(&self, reply: &[u8]) -> Result<Vec<String>, DriverError> {
        let text = std::str::from_utf8(reply).map_err(|_| bad_reply("quoted names", reply))?;
        let text = text.trim();
        if text.is_empty() || text == "\"\"" {
            return Ok(Vec::new());
        }
        text.split(',')
            .map(|n| {
                let n = n.trim();
                n.strip_prefix('"')
                    .and_then(|n| n.strip_suffix('"'))
                    .map(str::to_owned)
                    .ok_or_else(|| bad_reply("comma-separated quoted names", reply))
            })
            .collect()
    }
}

/// `WLIST:WAV:NEW "<name>",<size>`: a new real waveform of `size` samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWaveform {
    /// Its name (no quotes).
    pub name: String,
    /// Its length in samples.
    pub size: usize,
}
setting!(NewWaveform, |s, out| {
    out.extend_from_slice(format!("WLIST:WAV:NEW \"{}\",{}", s.name, s.size).as_bytes());
});

/// `WLIST:WAV:DEL "<name>"`: removes a waveform from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteWaveform(pub String);
setting!(DeleteWaveform, |s, out| {
    out.extend_from_slice(format!("WLIST:WAV:DEL \"{}\"", s.0).as_bytes());
});

/// `WLIST:WAV:DATA "<name>",0,<size>,<block>`: the samples, as IEEE 754
/// single-precision little-endian floats in -1..=1 (full scale).
#[derive(Debug, Clone, PartialEq)]
pub struct WaveformData {
    /// The waveform's name.
    pub name: String,
    /// The samples.
    pub samples: Vec<f32>,
}
setting!(WaveformData, |s, out| {
    out.extend_from_slice(
        format!("WLIST:WAV:DATA \"{}\",0,{},", s.name, s.samples.len()).as_bytes(),
    );
    let bytes: Vec<u8> = s.samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    block::encode(&bytes, out);
});

/// `WLIST:WAV:DATA? "<name>"`: the samples of a waveform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveformDataQuery(pub String);

impl Command for WaveformDataQuery {
    type Reply = Vec<f32>;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("WLIST:WAV:DATA? \"{}\"", self.0).as_bytes());
    }
    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::Block
    }
    fn parse(&self, reply: &[u8]) -> Result<Vec<f32>, DriverError> {
        if !reply.len().is_multiple_of(4) {
            return Err(bad_reply("a block of 4-byte floats", reply));
        }
        Ok(reply.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
}

/// `SOUR<n>:CASS:WAV "<name>"`: plays a waveform on output `n` (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignWaveform {
    /// The output, 1-based.
    pub output: u32,
    /// The waveform's name.
    pub name: String,
}
setting!(AssignWaveform, |s, out| {
    out.extend_from_slice(format!("SOUR{}:CASS:WAV \"{}\"", s.output, s.name).as_bytes());
});

/// `CLOCK:SRATE <rate>`: the sample rate of every output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetSampleRate(pub Hertz);
setting!(SetSampleRate, |s, out| {
    out.extend_from_slice(format!("CLOCK:SRATE {}", s.0.get()).as_bytes());
});

/// `CLOCK:SRATE?`: the sample rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRate;

query!(SampleRate => Hertz, |_s, out| { out.extend_from_slice(b"CLOCK:SRATE?") }, |reply| {
    parse_number(reply).map(Hertz)
});

/// `OUTP<n>:STAT ON|OFF`: output `n` (1-based) on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetOutput {
    /// The output, 1-based.
    pub output: u32,
    /// On or off.
    pub on: bool,
}
setting!(SetOutput, |s, out| {
    out.extend_from_slice(
        format!("OUTP{}:STAT {}", s.output, if s.on { "ON" } else { "OFF" }).as_bytes(),
    );
});

/// `OUTP<n>:STAT?`: whether output `n` (1-based) is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output(pub u32);

query!(Output => bool, |s, out| { out.extend_from_slice(format!("OUTP{}:STAT?", s.0).as_bytes()) }, parse_bool);

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<C: Command>(c: &C) -> Vec<u8> {
        c.to_bytes()
    }

    #[test]
    fn waveform_data_is_a_block_of_little_endian_floats() {
        let cmd = WaveformData { name: "w".into(), samples: vec![1.0, -0.5] };
        let mut expect = b"WLIST:WAV:DATA \"w\",0,2,#18".to_vec();
        expect.extend_from_slice(&1.0f32.to_le_bytes());
        expect.extend_from_slice(&(-0.5f32).to_le_bytes());
        assert_eq!(encoded(&cmd), expect);
        let q = WaveformDataQuery("w".into());
        assert_eq!(q.parse(&expect[expect.len() - 8..]).unwrap(), vec![1.0, -0.5]);
        assert!(q.parse(&[0, 0, 0]).is_err());
    }

    #[test]
    fn settings_and_lists() {
        assert_eq!(encoded(&NewWaveform { name: "a".into(), size: 64 }), b"WLIST:WAV:NEW \"a\",64");
        assert_eq!(
            encoded(&AssignWaveform { output: 2, name: "a".into() }),
            b"SOUR2:CASS:WAV \"a\""
        );
        assert_eq!(encoded(&SetSampleRate(Hertz(2.5e9))), b"CLOCK:SRATE 2500000000");
        assert_eq!(encoded(&SetOutput { output: 3, on: true }), b"OUTP3:STAT ON");
        assert_eq!(ListWaveforms.parse(b"\"a\",\"b c\"").unwrap(), ["a", "b c"]);
        assert!(ListWaveforms.parse(b"\"\"").unwrap().is_empty());
        assert!(ListWaveforms.parse(b"a,b").is_err());
    }
}
