//! Seeded, structure-aware mutations of valid input files, for the fuzz tests.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014) so that a seed printed by a failing run replays the same inputs on
//! any machine and with any version of the `rand` crate.

/// SplitMix64: a small, fast, fully specified pseudorandom generator.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n`.
    ///
    /// # Panics
    /// When `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "SplitMix64::below needs a non-empty range");
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: usize, denominator: usize) -> bool {
        self.below(denominator) < numerator
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A binary header field of a seed input: where it lies and how wide it is, so that mutations
/// can rewrite it with extreme values (huge dimensions, lengths, counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Byte offset of the field.
    pub offset: usize,
    /// Width in bytes (1, 2, 4 or 8).
    pub width: usize,
    /// Whether the field is big-endian (PNG, JPEG) rather than little-endian.
    pub big_endian: bool,
}

impl Field {
    /// A little-endian field.
    pub fn le(offset: usize, width: usize) -> Self {
        Self {
            offset,
            width,
            big_endian: false,
        }
    }

    /// A big-endian field.
    pub fn be(offset: usize, width: usize) -> Self {
        Self {
            offset,
            width,
            big_endian: true,
        }
    }
}

/// Integers that break parsers: zero, one, sign and size boundaries.
const INTERESTING: [u64; 14] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    u64::MAX,
];

/// Number tokens that break text parsers (JSON, `.npy` headers).
const INTERESTING_NUMBERS: [&str; 14] = [
    "0",
    "-1",
    "1",
    "-0.0",
    "1e309",
    "-1e309",
    "NaN",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1.5",
    "6",
    "\"x\"",
];

/// Which kind of mutation was applied (for the statistics a fuzz run prints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// One bit flipped.
    BitFlip,
    /// One byte replaced by a random or boundary value.
    ByteSet,
    /// Random bytes inserted.
    Insert,
    /// A range deleted.
    Delete,
    /// The input cut to a length from one of several size classes.
    Truncate,
    /// A boundary integer written at a random offset.
    Integer,
    /// A declared header field rewritten with a boundary integer.
    HeaderField,
    /// A range copied to another place (duplicated chunk).
    Duplicate,
    /// A range overwritten with random bytes.
    Splice,
    /// A number token of a text input replaced (JSON, `.npy` headers).
    TextNumber,
    /// A structural character of a text input removed or repeated.
    TextStructure,
    /// The whole input replaced by random bytes.
    Random,
}

/// Mutates valid seed inputs.
#[derive(Clone, Debug, Default)]
pub struct Mutator {
    /// Header fields of the seed that [`Mutation::HeaderField`] rewrites.
    pub fields: Vec<Field>,
    /// Whether the input is text (enables the text mutations).
    pub text: bool,
}

impl Mutator {
    /// A mutator for binary inputs with the given header fields.
    pub fn binary(fields: Vec<Field>) -> Self {
        Self {
            fields,
            text: false,
        }
    }

    /// A mutator for text inputs (JSON, headers).
    pub fn text() -> Self {
        Self {
            fields: Vec::new(),
            text: true,
        }
    }

    /// A mutated copy of `seed`: one to four stacked mutations. Returns the bytes and the
    /// mutations applied.
    pub fn mutate(&self, seed: &[u8], rng: &mut SplitMix64) -> (Vec<u8>, Vec<Mutation>) {
        let mut data = seed.to_vec();
        let count = 1 + rng.below(4);
        let mut applied = Vec::with_capacity(count);
        for _ in 0..count {
            applied.push(self.mutate_once(&mut data, rng));
        }
        (data, applied)
    }

    fn mutate_once(&self, data: &mut Vec<u8>, rng: &mut SplitMix64) -> Mutation {
        loop {
            let kind = rng.below(12);
            let mutation = match kind {
                0 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] ^= 1 << rng.below(8);
                    Mutation::BitFlip
                }
                1 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    data[at] = if rng.chance(1, 2) {
                        *rng.pick(&[0u8, 0x7f, 0x80, 0xff, b'0', b'9', b'-'])
                    } else {
                        rng.next_u64() as u8
                    };
                    Mutation::ByteSet
                }
                2 => {
                    let at = rng.below(data.len() + 1);
                    let most = if rng.chance(1, 8) { 4096 } else { 16 };
                    let len = 1 + rng.below(most);
                    let bytes = rng.bytes(len);
                    data.splice(at..at, bytes);
                    Mutation::Insert
                }
                3 if !data.is_empty() => {
                    let at = rng.below(data.len());
                    let len = 1 + rng.below((data.len() - at).min(64));
                    data.drain(at..at + len);
                    Mutation::Delete
                }
                4 if !data.is_empty() => {
                    let len = truncation_length(data.len(), rng);
                    data.truncate(len);
                    Mutation::Truncate
                }
                5 if data.len() >= 8 => {
                    let width = *rng.pick(&[1usize, 2, 4, 8]);
                    let at = rng.below(data.len() - width + 1);
                    let field = if rng.chance(1, 2) {
                        Field::le(at, width)
                    } else {
                        Field::be(at, width)
                    };
                    write_field(data, field, boundary_value(rng));
                    Mutation::Integer
                }
                6 if !self.fields.is_empty() => {
                    let field = *rng.pick(&self.fields);
                    if field.offset + field.width > data.len() {
                        continue;
                    }
                    write_field(data, field, boundary_value(rng));
                    Mutation::HeaderField
                }
                7 if data.len() >= 2 => {
                    let start = rng.below(data.len());
                    let len = 1 + rng.below((data.len() - start).min(1024));
                    let chunk = data[start..start + len].to_vec();
                    let at = rng.below(data.len() + 1);
                    data.splice(at..at, chunk);
                    Mutation::Duplicate
                }
                8 if !data.is_empty() => {
                    let start = rng.below(data.len());
                    let len = 1 + rng.below((data.len() - start).min(32));
                    let bytes = rng.bytes(len);
                    data[start..start + len].copy_from_slice(&bytes);
                    Mutation::Splice
                }
                9 | 10 if self.text => {
                    if kind == 9 {
                        if !replace_number(data, rng) {
                            continue;
                        }
                        Mutation::TextNumber
                    } else {
                        if !mutate_structure(data, rng) {
                            continue;
                        }
                        Mutation::TextStructure
                    }
                }
                11 if rng.chance(1, 8) => {
                    let len = rng.below(data.len().max(16) * 2);
                    *data = rng.bytes(len);
                    Mutation::Random
                }
                _ => continue,
            };
            return mutation;
        }
    }
}

/// A truncation length from one of several classes: empty, one byte, inside the first 16 bytes
/// (magic numbers), inside the first 256 bytes (headers), half, one byte short, or anywhere.
fn truncation_length(len: usize, rng: &mut SplitMix64) -> usize {
    match rng.below(7) {
        0 => 0,
        1 => 1.min(len),
        2 => rng.below(len.min(16) + 1),
        3 => rng.below(len.min(256) + 1),
        4 => len / 2,
        5 => len.saturating_sub(1),
        _ => rng.below(len + 1),
    }
}

fn boundary_value(rng: &mut SplitMix64) -> u64 {
    let base = *rng.pick(&INTERESTING);
    match rng.below(4) {
        0 => base.wrapping_add(1),
        1 => base.wrapping_sub(1),
        _ => base,
    }
}

/// Writes the low `field.width` bytes of `value` at the field.
fn write_field(data: &mut [u8], field: Field, value: u64) {
    let bytes = if field.big_endian {
        value.to_be_bytes()[8 - field.width..].to_vec()
    } else {
        value.to_le_bytes()[..field.width].to_vec()
    };
    data[field.offset..field.offset + field.width].copy_from_slice(&bytes);
}

/// Replaces one run of ASCII digits (with its sign and fraction) by a boundary token. Returns
/// false when the input holds no number.
fn replace_number(data: &mut Vec<u8>, rng: &mut SplitMix64) -> bool {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return false;
    }
    let mut start = *rng.pick(&starts);
    if start > 0 && data[start - 1] == b'-' {
        start -= 1;
    }
    let mut end = start + 1;
    while end < data.len() && (data[end].is_ascii_digit() || matches!(data[end], b'.' | b'e')) {
        end += 1;
    }
    let token = rng.pick(&INTERESTING_NUMBERS).as_bytes().to_vec();
    data.splice(start..end, token);
    true
}

/// Removes or repeats one structural character (`{}[]":,()'`). Returns false when there is
/// none.
fn mutate_structure(data: &mut Vec<u8>, rng: &mut SplitMix64) -> bool {
    let positions: Vec<usize> = (0..data.len())
        .filter(|&i| b"{}[]\":,()'".contains(&data[i]))
        .collect();
    if positions.is_empty() {
        return false;
    }
    let at = *rng.pick(&positions);
    if rng.chance(1, 2) {
        data.remove(at);
    } else {
        let byte = data[at];
        let most = if rng.chance(1, 8) { 10_000 } else { 3 };
        let copies = 1 + rng.below(most);
        data.splice(at..at, std::iter::repeat_n(byte, copies));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of SplitMix64 seeded with 0, as printed by the reference C
    /// implementation (`splitmix64.c`, Vigna, prng.di.unimi.it).
    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let seed = br#"{"a": [1, 2, 3], "b": "text"}"#;
        let mutator = Mutator::text();
        let a = mutator.mutate(seed, &mut SplitMix64::new(9));
        let b = mutator.mutate(seed, &mut SplitMix64::new(9));
        assert_eq!(a, b);
    }

    #[test]
    fn header_fields_are_written_in_their_byte_order() {
        let mut data = vec![0u8; 8];
        write_field(&mut data, Field::be(0, 4), 0x0102_0304);
        write_field(&mut data, Field::le(4, 2), 0x0506);
        assert_eq!(data, [1, 2, 3, 4, 6, 5, 0, 0]);
    }
}
