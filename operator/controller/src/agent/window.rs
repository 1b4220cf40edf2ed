//! Weekly maintenance windows in a time zone:
//! `"sat 02:00-06:00, sun 23:00-01:00"` in `Europe/Oslo`. A window whose end
//! is not after its start passes midnight into the next day; `24:00` ends a
//! day.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// One weekly window, in minutes of the local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    day: Weekday,
    start: u16,
    end: u16,
}

/// The windows and their time zone.
#[derive(Debug, Clone)]
pub(crate) struct Windows {
    windows: Vec<Window>,
    time_zone: TimeZone,
    time_zone_name: String,
}

impl Windows {
    /// Parses the windows annotation in `time_zone` (an IANA name, e.g.
    /// `Europe/Oslo`; `UTC` when absent).
    pub(crate) fn parse(windows: &str, time_zone: Option<&str>) -> Result<Self, String> {
        let time_zone_name = time_zone.unwrap_or("UTC").trim().to_owned();
        let time_zone = TimeZone::get(&time_zone_name)
            .map_err(|error| format!("time zone {time_zone_name:?}: {error}"))?;
        let windows = windows
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_window)
            .collect::<Result<Vec<_>, _>>()?;
        if windows.is_empty() {
            return Err("no maintenance window is listed".to_owned());
        }
        Ok(Self {
            windows,
            time_zone,
            time_zone_name,
        })
    }

    /// Whether `now` falls in a window.
    pub(crate) fn is_open(&self, now: Timestamp) -> bool {
        let local = now.to_zoned(self.time_zone.clone());
        let minute = u16::try_from(i16::from(local.hour()) * 60 + i16::from(local.minute()))
            .expect("hours and minutes of a day are positive");
        assert!(minute < MINUTES_PER_DAY);
        let today = local.weekday();
        self.windows
            .iter()
            .any(|window| window.contains(today, minute))
    }

    /// How the windows read, for messages.
    pub(crate) fn describe(&self) -> String {
        let list: Vec<_> = self
            .windows
            .iter()
            .map(|window| {
                format!(
                    "{} {:02}:{:02}-{:02}:{:02}",
                    day_name(window.day),
                    window.start / 60,
                    window.start % 60,
                    window.end / 60,
                    window.end % 60
                )
            })
            .collect();
        format!("{} ({})", list.join(", "), self.time_zone_name)
    }
}

impl Window {
    fn contains(&self, today: Weekday, minute: u16) -> bool {
        if self.start < self.end {
            today == self.day && (self.start..self.end).contains(&minute)
        } else {
            // Passes midnight: from start to the end of its day, then from
            // the next day's midnight to end.
            (today == self.day && minute >= self.start)
                || (today == self.day.next() && minute < self.end)
        }
    }
}

fn parse_window(entry: &str) -> Result<Window, String> {
    let (day, times) = entry
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("window {entry:?} is not `<day> HH:MM-HH:MM`"))?;
    let (start, end) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("window {entry:?} has no `-` between its times"))?;
    let window = Window {
        day: parse_day(day)?,
        start: parse_time(start)?,
        end: parse_time(end)?,
    };
    if window.start == MINUTES_PER_DAY {
        return Err(format!("window {entry:?} starts at 24:00"));
    }
    Ok(window)
}

fn parse_day(day: &str) -> Result<Weekday, String> {
    let day = day.trim().to_ascii_lowercase();
    let found = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ]
    .into_iter()
    .find(|weekday| day_name(*weekday) == day);
    found.ok_or_else(|| format!("{day:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"))
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

/// `HH:MM` as minutes of the day, `24:00` allowed.
fn parse_time(time: &str) -> Result<u16, String> {
    let time = time.trim();
    let bad = || format!("{time:?} is not a time HH:MM");
    let (hours, minutes) = time.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > MINUTES_PER_DAY {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a valid timestamp")
    }

    #[test]
    fn a_window_opens_in_its_own_time_zone() {
        // Saturday 2026-12-05 02:30 in Oslo is 01:30 UTC.
        let windows = Windows::parse("sat 02:00-06:00", Some("Europe/Oslo")).expect("parses");
        assert!(windows.is_open(at("2026-12-05T01:30:00Z")));
        assert!(
            !windows.is_open(at("2026-12-05T00:59:00Z")),
            "00:59 UTC is 01:59 there"
        );
        assert!(
            !windows.is_open(at("2026-12-05T05:00:00Z")),
            "06:00 there: closed"
        );
        assert!(!windows.is_open(at("2026-12-06T01:30:00Z")), "a Sunday");
        assert_eq!(windows.describe(), "sat 02:00-06:00 (Europe/Oslo)");
    }

    #[test]
    fn a_window_may_pass_midnight_and_a_day_may_end_at_24() {
        let windows = Windows::parse("fri 23:00-01:00, mon 00:00-24:00", None).expect("parses");
        assert!(windows.is_open(at("2026-12-04T23:30:00Z")), "friday night");
        assert!(
            windows.is_open(at("2026-12-05T00:30:00Z")),
            "saturday early"
        );
        assert!(!windows.is_open(at("2026-12-05T01:00:00Z")));
        assert!(windows.is_open(at("2026-12-07T23:59:00Z")), "all of monday");
        assert!(!windows.is_open(at("2026-12-08T00:00:00Z")));
    }

    #[test]
    fn bad_windows_are_refused_with_the_reason() {
        for (text, zone, expected) in [
            ("sat 02:00", None, "no `-`"),
            ("someday 02:00-03:00", None, "not a day"),
            ("sat 2:00-03:00", None, "not a time"),
            ("sat 02:00-24:01", None, "not a time"),
            ("sat 24:00-02:00", None, "starts at 24:00"),
            ("", None, "no maintenance window"),
            ("sat 02:00-03:00", Some("Mars/Olympus"), "time zone"),
        ] {
            let error = Windows::parse(text, zone).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
