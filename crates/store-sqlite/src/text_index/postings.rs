//! Posting lists: the ascending span `seq`s holding a term, stored as LEB128 varint deltas
//! (about 1–2 bytes per entry in dense lists).

/// Encodes an ascending, duplicate-free list.
pub(crate) fn encode(seqs: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seqs.len() * 2);
    let mut last = 0i64;
    for &seq in seqs {
        let mut delta = (seq - last) as u64;
        last = seq;
        loop {
            let byte = (delta & 0x7f) as u8;
            delta >>= 7;
            if delta == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// Decodes a list written by [`encode`], appending to `out`. A truncated tail (a damaged
/// blob) ends the list rather than failing the query.
pub(crate) fn decode_into(bytes: &[u8], out: &mut Vec<i64>) {
    let mut last = 0i64;
    let mut delta = 0u64;
    let mut shift = 0u32;
    for &byte in bytes {
        if shift < 64 {
            delta |= u64::from(byte & 0x7f) << shift;
        }
        if byte & 0x80 == 0 {
            last = last.wrapping_add(delta as i64);
            out.push(last);
            delta = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
}

/// Sorts and deduplicates in place.
pub(crate) fn normalize(seqs: &mut Vec<i64>) {
    seqs.sort_unstable();
    seqs.dedup();
}

/// The entries present in both ascending lists.
pub(crate) fn intersect(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sets() {
        let seqs = vec![1, 2, 130, 20_000, 5_000_000_000];
        let mut back = Vec::new();
        decode_into(&encode(&seqs), &mut back);
        assert_eq!(back, seqs);
        assert!(encode(&[1, 2, 3]).len() == 3);
        let mut v = vec![5, 1, 5, 3];
        normalize(&mut v);
        assert_eq!(v, [1, 3, 5]);
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 7]), [3, 7]);
    }
}
