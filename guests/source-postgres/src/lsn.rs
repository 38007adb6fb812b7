//! LSNs as Postgres writes them: two hexadecimal halves, `16/B374D848`.

pub fn format(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

pub fn parse(s: &str) -> Option<u64> {
    let (hi, lo) = s.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= 0xFFFF_FFFF && lo <= 0xFFFF_FFFF).then_some((hi << 32) | lo)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        assert_eq!(super::format(0x16_B374_D848), "16/B374D848");
        assert_eq!(super::parse("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(super::parse("0/0"), Some(0));
        assert_eq!(super::parse("x/1"), None);
        assert_eq!(super::parse("100000000/0"), None);
    }
}
