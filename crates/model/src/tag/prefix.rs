//! Order prefixes: a sort key's leading fields packed into one integer, for cheap sorting.
//!
//! Comparing two `SortKey`s walks up to seven optional fields, versions of three numbers that
//! may be longer than 64 bits and strings; sorting 20,000 tags that way spends most of its
//! time there. A prefix is computed once per item instead, and sorting compares integers,
//! leaving full comparisons to items whose prefixes are equal.
//!
//! The order of prefixes must never contradict the order of keys: a smaller prefix means a
//! smaller key, and equal keys have equal prefixes. `Packer` keeps that by writing each field
//! with a code that is order-preserving and prefix-free (no value's code starts another's),
//! most significant bit first, so that comparing the integers compares the fields in turn.
//! A field written without all of its information (a number too long, a string cut off at the
//! end of the prefix, a prerelease) *closes* the prefix: nothing after it is written, so two
//! keys that this field cannot tell apart get prefixes that cannot either. Which fields are
//! written, and in which order, is `SortKey::fields` (order.rs), the order's one definition.

use super::Number;

/// How many bits a prefix has; the rest of a `u128` is left for the sort's own use.
pub(crate) const PREFIX_BITS: u32 = 96;

/// Width of a number's length in bits; the largest length means "too long" (see `number`).
const LENGTH_BITS: u32 = 6;
const TOO_LONG: u32 = (1 << LENGTH_BITS) - 1;

/// Writes fields into a prefix, most significant bit first.
pub(crate) struct Packer {
    bits: u128,
    /// Bits not yet written. Closing the prefix pads it with zeros to the end, so that a closed
    /// prefix is simply a full one: every later push finds no room and writes nothing.
    free: u32,
}

impl Packer {
    pub(crate) fn new() -> Packer {
        Packer {
            bits: 0,
            free: PREFIX_BITS,
        }
    }

    /// Appends the `width` (at most 64) low bits of `value`, which has no others. What does
    /// not fit is cut off, which closes the prefix: a code cut short no longer tells all
    /// values apart.
    pub(crate) fn push(&mut self, width: u32, value: u64) {
        debug_assert!(width <= 64 && u128::from(value) >> width == 0);
        if width > self.free {
            self.bits = (self.bits << self.free) | (u128::from(value) >> (width - self.free));
            self.free = 0;
            return;
        }
        self.bits = (self.bits << width) | u128::from(value);
        self.free -= width;
    }

    /// One bit: whether an optional field is present (absent orders first) or the reverse.
    pub(crate) fn bit(&mut self, bit: Bit) {
        self.push(1, bit as u64);
    }

    /// Stops writing: the field just written did not carry all of its information.
    pub(crate) fn close(&mut self) {
        self.bits <<= self.free;
        self.free = 0;
    }

    /// A whole number: its bit length in `LENGTH_BITS` bits, then its bits below the leading
    /// one. A longer number is a greater one, and numbers of one length compare by their bits,
    /// so the code orders as the numbers do. Numbers of `TOO_LONG` bits or more, and those
    /// beyond 64 bits, all write the same length and close the prefix.
    pub(crate) fn number(&mut self, number: Number<'_>) {
        match number {
            Number::Small(value) if 64 - value.leading_zeros() < TOO_LONG => {
                let length = 64 - value.leading_zeros();
                self.push(LENGTH_BITS, u64::from(length));
                if length > 1 {
                    self.push(length - 1, value & !(1 << (length - 1)));
                }
            }
            Number::Small(_) | Number::Big(_) => {
                self.push(LENGTH_BITS, u64::from(TOO_LONG));
                self.close();
            }
        }
    }

    /// A string: each byte plus one in 9 bits, then a 0. The end marks are below every byte,
    /// so a string orders below those it starts, as `str` does; what does not fit is cut off.
    pub(crate) fn text(&mut self, text: &str) {
        for byte in text.bytes() {
            if self.free == 0 {
                return;
            }
            self.push(9, u64::from(byte) + 1);
        }
        self.push(9, 0);
    }

    /// The prefix, in the low `PREFIX_BITS` bits; unwritten bits are zeros.
    pub(crate) fn finish(self) -> u128 {
        self.bits << self.free
    }
}

/// A one-bit code: `Zero` orders first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bit {
    Zero = 0,
    One = 1,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(value: Number<'_>) -> u128 {
        let mut packer = Packer::new();
        packer.number(value);
        packer.push(8, 0xff);
        packer.finish()
    }

    fn text(value: &str) -> u128 {
        let mut packer = Packer::new();
        packer.text(value);
        packer.push(8, 0xff);
        packer.finish()
    }

    #[test]
    fn numbers_pack_in_their_order_and_long_ones_close_the_prefix() {
        let values = [
            0,
            1,
            2,
            3,
            4,
            7,
            8,
            2025,
            (1 << 61) - 1,
            1 << 61,
            (1 << 62) - 1,
        ];
        for pair in values.windows(2) {
            assert!(
                number(Number::Small(pair[0])) < number(Number::Small(pair[1])),
                "{pair:?}"
            );
        }
        // The field after an exact number is written; after a long one it is not.
        assert_eq!(number(Number::Small(0)) >> (PREFIX_BITS - 14), 0xff);
        let long = [
            Number::Small(1 << 62),
            Number::Small(u64::MAX),
            Number::Big("18446744073709551616"),
        ];
        for value in long {
            assert_eq!(
                number(value),
                u128::from(TOO_LONG) << (PREFIX_BITS - LENGTH_BITS)
            );
        }
        assert!(number(Number::Small((1 << 62) - 1)) < number(Number::Small(1 << 62)));
    }

    #[test]
    fn strings_pack_in_byte_order_and_are_cut_off_at_the_end() {
        let ordered = ["", "\0", "\0\0", "a", "a\0", "ab", "b", "\u{ff}"];
        for pair in ordered.windows(2) {
            assert!(text(pair[0]) < text(pair[1]), "{pair:?}");
        }
        // Ten bytes fill 90 bits; only the leading 6 bits of the eleventh fit, and close.
        let long = "abcdefghijk";
        assert_eq!(text(long), text(&format!("{long}x")));
        assert_eq!(text(long), text("abcdefghijl"));
        assert!(text("abcdefghij") < text(long));
        assert!(text(long) < text("abcdefghijz"));
    }

    #[test]
    fn a_cut_off_value_keeps_its_leading_bits() {
        let mut packer = Packer::new();
        packer.push(60, 0);
        packer.push(30, 0);
        packer.push(10, 0b10_1100_0011);
        packer.push(1, 1);
        assert_eq!(packer.finish(), 0b10_1100);
    }
}
