//! One timeline of what otaflash did and what the chip printed on its console, in the order it
//! happened, each line with the wall-clock time it began (supplied by the caller: no clock
//! here). Console text arrives in pieces; a line the chip has not ended yet is still open.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// What otaflash did.
    Otaflash,
    /// What the chip printed on its serial console.
    Device,
}

/// One line of the timeline: otaflash's own lines and the device's console, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Wall-clock time, formatted by whoever supplied it ("14:03:07.125").
    pub clock: String,
    pub source: Source,
    pub text: String,
    /// The device has not ended this line yet (more console text joins it).
    pub open: bool,
}

/// The most lines kept (the oldest go first).
const MAX_LINES: usize = 2000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    lines: Vec<LogLine>,
}

impl Timeline {
    fn push(&mut self, line: LogLine) {
        self.lines.push(line);
        if self.lines.len() > MAX_LINES {
            self.lines.drain(..self.lines.len() - MAX_LINES);
        }
    }

    /// otaflash's own lines: they end any open console line.
    pub fn otaflash(&mut self, clock: &str, text: &str) {
        if let Some(l) = self.lines.last_mut() {
            l.open = false;
        }
        for line in text.lines() {
            self.push(LogLine {
                clock: clock.to_string(),
                source: Source::Otaflash,
                text: line.to_string(),
                open: false,
            });
        }
    }

    /// Console text joins the device's open line; each new line gets the time it began.
    pub fn device(&mut self, clock: &str, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let ends = text.matches('\n').count();
        for (i, piece) in text.split('\n').enumerate() {
            let ends_line = i < ends;
            let open_line = self
                .lines
                .last_mut()
                .filter(|l| l.open && l.source == Source::Device);
            match open_line {
                Some(l) => {
                    l.text.push_str(piece);
                    l.open = !ends_line;
                }
                None if piece.is_empty() && !ends_line => {}
                None => self.push(LogLine {
                    clock: clock.to_string(),
                    source: Source::Device,
                    text: piece.to_string(),
                    open: !ends_line,
                }),
            }
        }
    }

    pub fn clear(&mut self) {
        self.lines.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, LogLine> {
        self.lines.iter()
    }

    pub fn last(&self) -> Option<&LogLine> {
        self.lines.last()
    }

    /// As text, one line each: "14:03:07.125 [device]   text" (what "Download the log" saves).
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| {
                format!(
                    "{} {} {}\n",
                    l.clock,
                    match l.source {
                        Source::Otaflash => "[otaflash]",
                        Source::Device => "[device]  ",
                    },
                    l.text
                )
            })
            .collect()
    }
}
