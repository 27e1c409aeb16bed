//! Putting a concatenated message (UDH or SAR) back together from the parts that arrived: their
//! payloads joined in order before anything is decoded (so a character split between two parts,
//! a UCS-2 surrogate pair or a GSM escape, comes out whole), with each gap named so that what
//! is missing stays visible.
//!
//! Pure, and generic over what holds a part's payload: where the parts wait is the caller's
//! business (Impulse keeps them in its spool, so that they survive a restart and may arrive on
//! different binds of one account). Untrusted input: the numbers in the parts; out-of-range and
//! repeated numbers are dropped here.

/// A stretch of the message: payload to decode, or parts that never came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Run {
    /// The payloads of consecutive parts, joined.
    Data(Vec<u8>),
    /// Parts `from..=to` are missing.
    Missing { from: u32, to: u32 },
}

/// Joins the parts of a message of `total` parts, given as (sequence number, payload) in any
/// order. A part numbered 0 or above `total` is ignored, and so is a repeated number after its
/// first.
pub fn join<T: AsRef<[u8]>>(total: u32, parts: impl IntoIterator<Item = (u32, T)>) -> Vec<Run> {
    let mut parts: Vec<(u32, T)> = parts
        .into_iter()
        .filter(|(seq, _)| (1..=total).contains(seq))
        .collect();
    parts.sort_by_key(|(seq, _)| *seq);
    parts.dedup_by_key(|(seq, _)| *seq);
    let mut runs = Vec::new();
    let mut data = Vec::new();
    let mut next = 1;
    for (seq, payload) in parts {
        if seq != next {
            if !data.is_empty() {
                runs.push(Run::Data(std::mem::take(&mut data)));
            }
            runs.push(Run::Missing {
                from: next,
                to: seq - 1,
            });
        }
        data.extend_from_slice(payload.as_ref());
        next = seq + 1;
    }
    if !data.is_empty() {
        runs.push(Run::Data(data));
    }
    if next <= total {
        runs.push(Run::Missing {
            from: next,
            to: total,
        });
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_in_any_order_are_joined_before_decoding() {
        let runs = join(
            3,
            [(2, b"b".to_vec()), (1, b"a".to_vec()), (3, b"c".to_vec())],
        );
        assert_eq!(runs, [Run::Data(b"abc".to_vec())]);
    }

    #[test]
    fn gaps_are_named_where_they_are() {
        let runs = join(5, [(2, &b"b"[..]), (3, b"c"), (5, b"e")]);
        assert_eq!(
            runs,
            [
                Run::Missing { from: 1, to: 1 },
                Run::Data(b"bc".to_vec()),
                Run::Missing { from: 4, to: 4 },
                Run::Data(b"e".to_vec()),
            ]
        );
        assert_eq!(
            join(3, [(1, b"a")]),
            [Run::Data(b"a".to_vec()), Run::Missing { from: 2, to: 3 }]
        );
    }

    #[test]
    fn hostile_numbers_are_dropped() {
        let runs = join(
            2,
            [
                (0, &b"x"[..]),
                (1, b"a"),
                (1, b"again"),
                (9, b"y"),
                (2, b"b"),
            ],
        );
        assert_eq!(runs, [Run::Data(b"ab".to_vec())]);
        assert_eq!(join::<&[u8]>(0, []), []);
    }
}
