//! The price table, `.infra/prices/fly.toml`, read from its text (the shell reads the file):
//! Fly's published monthly prices per guest size and region, per GB-month of volume and per
//! dedicated IPv4, with where they come from and when. Money is exact: integer cents.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Where the price table lives in a repository.
pub const PRICES_PATH: &str = ".infra/prices/fly.toml";

/// An amount of money in cents of the table's currency: exact, so a plan's digest never
/// depends on how a double rounds. Written as a decimal string, `"82.50"`, `"-2.00"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// `+82.50`, `-2.00`, `0.00`: a delta as the renderings show it.
    pub fn signed(self) -> String {
        if self.0 > 0 {
            format!("+{self}")
        } else {
            self.to_string()
        }
    }

    /// Parse `"82.5"`, `"82.50"`, `"-2"`: at most two decimals.
    pub fn parse(text: &str) -> Result<Money, String> {
        let bad = || {
            format!(
                "`{text}` is not an amount: expected a decimal with at most two decimals, e.g. \"66.00\""
            )
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 2 {
            return Err(bad());
        }
        if digits.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac))
            .filter(|c| crate::core::number::is_safe_integer(i128::from(*c)))
            .ok_or_else(bad)?;
        Ok(Money(if negative { -cents } else { cents }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl std::ops::Mul<u64> for Money {
    type Output = Money;
    fn mul(self, n: u64) -> Money {
        Money(self.0.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX)))
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a decimal string, e.g. \"66.00\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A machine's guest size: what Fly prices (`cpu_kind`, `cpus`, `memory_mb`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestSize {
    pub cpu_kind: String,
    pub cpus: u64,
    pub memory_mb: u64,
}

impl GuestSize {
    /// `shared-cpu-1x/256MB`, `performance-2x/4GB`.
    pub fn parse(key: &str) -> Result<GuestSize, String> {
        let bad = || {
            format!(
                "`{key}` is not a guest size: expected `shared-cpu-<n>x/<memory>` or \
                 `performance-<n>x/<memory>` with the memory in MB or GB, e.g. \
                 `performance-2x/4GB`"
            )
        };
        let (preset, memory) = key.split_once('/').ok_or_else(bad)?;
        let (cpu_kind, n) = if let Some(n) = preset.strip_prefix("shared-cpu-") {
            ("shared", n)
        } else if let Some(n) = preset.strip_prefix("performance-") {
            ("performance", n)
        } else {
            return Err(bad());
        };
        let cpus: u64 = n
            .strip_suffix('x')
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        let memory_mb = if let Some(mb) = memory.strip_suffix("MB") {
            mb.parse::<u64>().ok()
        } else if let Some(gb) = memory.strip_suffix("GB") {
            // Whole or half gigabytes (`1.5GB`), as the price page lists them.
            match gb.split_once('.') {
                None => gb.parse::<u64>().ok().map(|g| g * 1024),
                Some((g, "5")) => g.parse::<u64>().ok().map(|g| g * 1024 + 512),
                Some((g, "0")) => g.parse::<u64>().ok().map(|g| g * 1024),
                Some(_) => None,
            }
        } else {
            None
        };
        let memory_mb = memory_mb.filter(|m| *m > 0).ok_or_else(bad)?;
        Ok(GuestSize {
            cpu_kind: cpu_kind.to_string(),
            cpus,
            memory_mb,
        })
    }
}

impl fmt::Display for GuestSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cpu_kind.as_str() {
            "shared" => write!(f, "shared-cpu-{}x/", self.cpus)?,
            "performance" => write!(f, "performance-{}x/", self.cpus)?,
            other => write!(f, "{other}-{}x/", self.cpus)?,
        }
        match self.memory_mb {
            m if m % 1024 == 0 => write!(f, "{}GB", m / 1024),
            m => write!(f, "{m}MB"),
        }
    }
}

impl<'de> Deserialize<'de> for GuestSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GuestSize, D::Error> {
        let key = String::deserialize(d)?;
        GuestSize::parse(&key).map_err(de::Error::custom)
    }
}

/// The price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prices {
    pub currency: String,
    /// Where the figures come from (a URL).
    pub source: String,
    /// When they were taken from it (`YYYY-MM-DD`).
    pub date: String,
    pub volume_gb_month: Money,
    pub dedicated_ipv4_month: Money,
    /// Region → guest size → one started machine for 30 days.
    pub machines: BTreeMap<String, BTreeMap<GuestSize, Money>>,
}

impl Prices {
    /// One started machine of `guest` in `region` for a month, if the table has it.
    pub fn machine(&self, region: &str, guest: &GuestSize) -> Option<Money> {
        self.machines.get(region)?.get(guest).copied()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    currency: Currency,
    source: String,
    date: Date,
    volume: RawVolume,
    ipv4: RawIpv4,
    machines: BTreeMap<String, BTreeMap<GuestSize, Money>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    gb_month: Money,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIpv4 {
    dedicated_month: Money,
}

/// An ISO 4217 code: three capital letters.
struct Currency(String);

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Currency, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Currency(s))
        } else {
            Err(de::Error::custom(format!(
                "`{s}` is not a currency: expected an ISO 4217 code such as \"USD\""
            )))
        }
    }
}

/// `YYYY-MM-DD`.
struct Date(String);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        match chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
            Ok(_) if s.len() == 10 => Ok(Date(s)),
            _ => Err(de::Error::custom(format!(
                "`{s}` is not a date: expected YYYY-MM-DD, the day the prices were read"
            ))),
        }
    }
}

/// Why a price table cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PricesError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl crate::core::hint::Hint for PricesError {
    fn hint(&self) -> Option<String> {
        Some(
            "the price table has `currency`, `source`, `date`, `[volume] gb_month`, `[ipv4] \
             dedicated_month` and `[machines.<region>]` tables of `\"<guest size>\" = \
             \"<monthly price>\"`; `scripts/fly-prices` writes it from Fly's published prices"
                .to_string(),
        )
    }
}

/// Parse a price table. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Prices, PricesError> {
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        PricesError {
            file: file.to_string(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    Ok(Prices {
        currency: raw.currency.0,
        source: raw.source,
        date: raw.date.0,
        volume_gb_month: raw.volume.gb_month,
        dedicated_ipv4_month: raw.ipv4.dedicated_month,
        machines: raw.machines,
    })
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"currency = "USD"
source = "https://docs.fly.io/about/pricing/"
date = "2026-11-27"

[volume]
gb_month = "0.15"

[ipv4]
dedicated_month = "2.00"

[machines.ord]
"performance-2x/4GB" = "82.50"
"shared-cpu-6x/1.5GB" = "17.25"
"#;

    #[test]
    fn a_table_reads_as_cents() {
        let p = parse("fly.toml", TABLE).unwrap();
        assert_eq!(p.volume_gb_month, Money(15));
        assert_eq!(p.dedicated_ipv4_month, Money(200));
        let perf2 = GuestSize::parse("performance-2x/4096MB").unwrap();
        assert_eq!(p.machine("ord", &perf2), Some(Money(8250)));
        assert_eq!(p.machine("iad", &perf2), None);
        let six = GuestSize {
            cpu_kind: "shared".into(),
            cpus: 6,
            memory_mb: 1536,
        };
        assert_eq!(p.machine("ord", &six), Some(Money(1725)));
        assert_eq!(six.to_string(), "shared-cpu-6x/1536MB");
        assert_eq!(perf2.to_string(), "performance-2x/4GB");
    }

    #[test]
    fn money_is_exact_both_ways() {
        for (text, cents, shown) in [
            ("82.5", 8250, "82.50"),
            ("0.15", 15, "0.15"),
            ("2", 200, "2.00"),
            ("-2.05", -205, "-2.05"),
        ] {
            let m = Money::parse(text).unwrap();
            assert_eq!(m, Money(cents));
            assert_eq!(m.to_string(), shown);
        }
        assert_eq!(Money(8250).signed(), "+82.50");
        assert_eq!(Money(-5).signed(), "-0.05");
        for bad in [
            "",
            "1.234",
            "1.",
            ".5",
            "1e3",
            "+1",
            "abc",
            "99999999999999999",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_say_where() {
        let bad = TABLE.replace("\"82.50\"", "\"82.505\"");
        let e = parse(".infra/prices/fly.toml", &bad).unwrap_err();
        assert_eq!((e.line, e.column), (12, 24), "{e}");
        assert!(e.to_string().contains("`82.505` is not an amount"), "{e}");

        let bad = TABLE.replace("performance-2x/4GB", "performance-2x/4 GB");
        let e = parse("f", &bad).unwrap_err();
        assert_eq!(e.line, 12, "{e}");
        assert!(e.to_string().contains("is not a guest size"), "{e}");

        let bad = TABLE.replace("date = \"2026-11-27\"", "date = \"27.11.2026\"");
        let e = parse("f", &bad).unwrap_err();
        assert_eq!((e.line, e.column), (3, 8), "{e}");

        let bad = TABLE.replace("[ipv4]\n", "[ipv4]\nshared = 1\n");
        let e = parse("f", &bad).unwrap_err();
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("shared"), "{e}");

        let bad = TABLE.replace("[volume]\ngb_month = \"0.15\"\n", "");
        let e = parse("f", &bad).unwrap_err();
        assert!(e.message.contains("volume"), "{e}");
    }

    #[test]
    fn the_repository_table_reads() {
        let text = include_str!("../../../.infra/prices/fly.toml");
        let p = parse(PRICES_PATH, text).unwrap();
        assert_eq!(p.machines.len(), 17);
        let perf2 = GuestSize::parse("performance-2x/4GB").unwrap();
        assert_eq!(p.machine("iad", &perf2), Some(Money(6600)));
        assert_eq!(p.machine("ord", &perf2), Some(Money(8250)));
    }
}
