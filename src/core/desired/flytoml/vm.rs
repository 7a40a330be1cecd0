//! `[[vm]]` and `[vm]`: the machine size of a `fly.toml` (a named `size`, or `cpu_kind`,
//! `cpus` and `memory`), read into a [`Guest`] as flyctl reads it.

use toml::de::{DeTable, DeValue};

use super::super::model::{CpuKind, Guest};
use super::{FlyTomlError, Reader, V, field_name};

/// Fly's guest presets: (size, cpu kind, cpus, memory MB).
const SIZES: [(&str, CpuKind, u32, u32); 9] = [
    ("shared-cpu-1x", CpuKind::Shared, 1, 256),
    ("shared-cpu-2x", CpuKind::Shared, 2, 512),
    ("shared-cpu-4x", CpuKind::Shared, 4, 1024),
    ("shared-cpu-8x", CpuKind::Shared, 8, 2048),
    ("performance-1x", CpuKind::Performance, 1, 2048),
    ("performance-2x", CpuKind::Performance, 2, 4096),
    ("performance-4x", CpuKind::Performance, 4, 8192),
    ("performance-8x", CpuKind::Performance, 8, 16384),
    ("performance-16x", CpuKind::Performance, 16, 32768),
];

pub(super) fn guest(r: &Reader<'_>, root: &DeTable<'_>) -> Result<Option<Guest>, FlyTomlError> {
    let mut sections = Vec::new();
    for key in ["vm", "compute"] {
        if let Some(v) = root.get(key) {
            for (i, t) in r.sections(v, key)? {
                let start = match i {
                    Some(i) => v.get_ref().as_array().map_or(0, |a| a[i].span().start),
                    None => v.span().start,
                };
                sections.push((start, field_name(key, i), t));
            }
        }
    }
    sections.sort_by_key(|(start, ..)| *start);
    let mut guest: Option<Guest> = None;
    for (_, base, t) in sections {
        if t.get("processes").is_some() {
            continue;
        }
        let f = |name: &str| format!("{base}.{name}");
        let sized = ["size", "cpu_kind", "cpus", "memory", "memory_mb"]
            .iter()
            .any(|k| t.get(*k).is_some());
        if !sized {
            continue;
        }
        let g = guest.get_or_insert(Guest {
            cpu_kind: CpuKind::Shared,
            cpus: 1,
            memory_mb: 256,
        });
        if let Some(v) = t.get("size") {
            let size = r.string(v, &f("size"))?;
            let (_, kind, cpus, mem) = SIZES
                .iter()
                .find(|(n, ..)| *n == size)
                .ok_or_else(|| {
                    let hint = match super::super::parse::did_you_mean(&size, SIZES.iter().map(|s| s.0)) {
                        Some(c) => format!("did you mean `{c}`? sophia imports the shared-cpu and performance sizes"),
                        None => "sophia imports the shared-cpu-Nx and performance-Nx sizes".to_string(),
                    };
                    r.err(v.span(), &f("size"), format!("unknown guest size `{size}`"), Some(hint))
                })?;
            *g = Guest {
                cpu_kind: *kind,
                cpus: *cpus,
                memory_mb: *mem,
            };
        }
        if let Some(v) = t.get("cpu_kind") {
            g.cpu_kind = match r.string(v, &f("cpu_kind"))?.as_str() {
                "shared" => CpuKind::Shared,
                "performance" => CpuKind::Performance,
                other => {
                    return Err(r.err(
                        v.span(),
                        &f("cpu_kind"),
                        format!("unknown cpu kind `{other}`"),
                        Some("expected `shared` or `performance`".into()),
                    ));
                }
            };
        }
        if let Some(v) = t.get("cpus") {
            let n = r.integer(v, &f("cpus"))?;
            g.cpus = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                r.err(
                    v.span(),
                    &f("cpus"),
                    format!("{n} is not a CPU count"),
                    None,
                )
            })?;
        }
        let memory = match t.get("memory") {
            Some(v) => Some((memory_mb(r, v, &f("memory"))?, v)),
            None => None,
        };
        let memory_mb_field = match t.get("memory_mb") {
            Some(v) => {
                let n = r.integer(v, &f("memory_mb"))?;
                Some((
                    u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                        r.err(
                            v.span(),
                            &f("memory_mb"),
                            format!("{n} is not a memory size"),
                            None,
                        )
                    })?,
                    v,
                ))
            }
            None => None,
        };
        match (memory, memory_mb_field) {
            (Some((a, _)), Some((b, v))) if a != b => {
                return Err(r.err(
                    v.span(),
                    &f("memory_mb"),
                    format!("{b} MB disagrees with `memory` ({a} MB)"),
                    Some("set only one of `memory` and `memory_mb`".into()),
                ));
            }
            (_, Some((mb, _))) | (Some((mb, _)), None) => g.memory_mb = mb,
            (None, None) => {}
        }
    }
    Ok(guest)
}

/// `memory`: a number of MB, or a size with a binary unit (`"1gb"`, `"512mb"`, `"4G"`).
fn memory_mb(r: &Reader<'_>, v: &V<'_>, field: &str) -> Result<u32, FlyTomlError> {
    /// MB in one unit (flyctl reads sizes as binary units, like Docker's RAMInBytes).
    const UNITS: [(&str, f64); 13] = [
        ("", 1.0),
        ("b", 1.0 / 1_048_576.0),
        ("k", 1.0 / 1024.0),
        ("kb", 1.0 / 1024.0),
        ("kib", 1.0 / 1024.0),
        ("m", 1.0),
        ("mb", 1.0),
        ("mib", 1.0),
        ("g", 1024.0),
        ("gb", 1024.0),
        ("gib", 1024.0),
        ("t", 1_048_576.0),
        ("tb", 1_048_576.0),
    ];
    let bad = |what: String| {
        r.err(
            v.span(),
            field,
            what,
            Some("write a size such as `\"512mb\"`, `\"1gb\"` or a number of MB".into()),
        )
    };
    let mb = match v.get_ref() {
        DeValue::Integer(_) => r.integer(v, field)? as f64,
        DeValue::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            let split = s
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let num: f64 = num
                .parse()
                .map_err(|_| bad(format!("`{s}` is not a memory size")))?;
            let factor = UNITS
                .iter()
                .find(|(u, _)| *u == unit.trim())
                .map(|(_, f)| *f)
                .ok_or_else(|| bad(format!("unknown unit in `{s}`")))?;
            num * factor
        }
        other => return Err(bad(format!("expected a size, found {}", other.type_str()))),
    };
    if mb < 1.0 || mb.fract() != 0.0 || mb > f64::from(u32::MAX) {
        return Err(bad(format!(
            "{mb} MB is not a whole, positive number of MB"
        )));
    }
    Ok(mb as u32)
}
