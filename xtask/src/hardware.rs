//! The machine a run happened on, for reports and benchmark files.

use serde::{Deserialize, Serialize};

/// The machine's description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hardware {
    /// The CPU's model name (`/proc/cpuinfo`), or the architecture when unknown.
    pub cpu_model: String,
    /// Logical cores this process may use.
    pub cores: usize,
    /// Total memory in GiB (`/proc/meminfo`), when known.
    pub memory_gib: Option<f64>,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
}

impl Hardware {
    /// Reads the description of this machine.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                matches!(name.trim(), "model name" | "Model" | "cpu model")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some((kib / (1024.0 * 1024.0) * 10.0).round() / 10.0)
            });
        Self {
            cpu_model,
            cores,
            memory_gib,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }

    /// One line for reports: `Intel Xeon ..., 2 cores, 24.0 GiB, linux x86_64`.
    pub fn summary(&self) -> String {
        let memory = self
            .memory_gib
            .map(|m| format!(", {m:.1} GiB"))
            .unwrap_or_default();
        format!(
            "{}, {} cores{memory}, {}",
            self.cpu_model, self.cores, self.os
        )
    }
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_timestamp() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(seconds)
}

/// Formats seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian).
pub fn format_utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Civil date from a day count (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // Values from `date -u -d @<seconds> +%FT%TZ`.
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_796_300_000), "2026-12-03T12:13:20Z");
    }

    #[test]
    fn detects_at_least_one_core() {
        let hardware = Hardware::detect();
        assert!(hardware.cores >= 1);
        assert!(!hardware.cpu_model.is_empty());
    }
}
