//! Test steps: the one parser behind `planar run --script FILE` (run inside planar's event
//! loop) and `planar-client do STEP…` (run through planar-test-v1 from a shell in the
//! session). It lives here because both the compositor and the test
//! client depend on this crate; `expect` takes planar-image's fuzz and clip.
//!
//! One step per line; `#` starts a comment line, blank lines are skipped. Key names are
//! XKB keysym names (`Return`, `Tab`, `a`), resolved when the script is parsed so a typo
//! fails before anything runs. Known limit: `type` sends only characters the keymap can
//! produce (with Shift or AltGr where needed); no compose sequences or input methods.

use std::path::PathBuf;

use smithay::input::keyboard::{keysyms, xkb, Keysym};

use planar_image::{parse_clip, parse_fuzz, Clip, Fuzz};

/// evdev button codes (linux/input-event-codes.h), as wl_pointer.button sends them.
pub const BTN_LEFT: u32 = 0x110;
pub const BTN_RIGHT: u32 = 0x111;
pub const BTN_MIDDLE: u32 = 0x112;

/// How far one wheel notch scrolls, in logical pixels (libinput's and Weston's value).
pub const PIXELS_PER_NOTCH: f64 = 15.0;

/// One test step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A toplevel whose title contains this (any toplevel when empty) has been mapped and
    /// presented.
    WaitWindow { title: String },
    /// Pointer to (x, y) in output coordinates, then press and release `button`.
    Click { x: f64, y: f64, button: u32 },
    /// Pointer to (x, y) in output coordinates.
    Move { x: f64, y: f64 },
    /// Wheel notches: positive scrolls right / down.
    Scroll { dx: i32, dy: i32 },
    /// Text typed through the keymap.
    Type { text: String },
    /// Modifiers held while `key` is pressed and released.
    Key { modifiers: Vec<Keysym>, key: Keysym },
    /// Every client took the input, then no commit for one quiet period; a frame is drawn.
    WaitIdle,
    /// Writes the output to a PNG.
    Screenshot { path: PathBuf },
    /// Compares the output with a reference PNG as `--expect` does.
    Expect {
        reference: PathBuf,
        fuzz: Option<Fuzz>,
        clip: Option<Clip>,
    },
    /// Waits this many milliseconds.
    Sleep { ms: u64 },
}

/// A step and the line of the script it came from (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptLine {
    pub line: usize,
    pub text: String,
    pub step: Step,
}

/// A script that does not parse: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<ScriptLine>, ParseError> {
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let step = parse_step(trimmed).map_err(|message| ParseError {
            line: i + 1,
            message,
        })?;
        steps.push(ScriptLine {
            line: i + 1,
            text: trimmed.to_string(),
            step,
        });
    }
    Ok(steps)
}

/// Parses one step (`click 10 20 right`, `type hello world` …).
pub fn parse_step(text: &str) -> Result<Step, String> {
    let text = text.trim_start();
    let (verb, rest) = match text.split_once(char::is_whitespace) {
        Some((v, r)) => (v, r),
        None => (text, ""),
    };
    let args: Vec<&str> = rest.split_whitespace().collect();
    let arity = |min: usize, max: usize| {
        if args.len() < min || args.len() > max {
            Err(format!(
                "{verb} takes {}, got {:?}",
                if min == max {
                    format!("{min} argument(s)")
                } else {
                    format!("{min} to {max} arguments")
                },
                rest.trim()
            ))
        } else {
            Ok(())
        }
    };
    match verb {
        "wait-window" => Ok(Step::WaitWindow {
            title: rest.trim().to_string(),
        }),
        "click" => {
            arity(2, 3)?;
            let button = match args.get(2).copied().unwrap_or("left") {
                "left" => BTN_LEFT,
                "right" => BTN_RIGHT,
                "middle" => BTN_MIDDLE,
                other => return Err(format!("unknown button {other:?} (left, right or middle)")),
            };
            Ok(Step::Click {
                x: coordinate(args[0])?,
                y: coordinate(args[1])?,
                button,
            })
        }
        "move" => {
            arity(2, 2)?;
            Ok(Step::Move {
                x: coordinate(args[0])?,
                y: coordinate(args[1])?,
            })
        }
        "scroll" => {
            arity(2, 2)?;
            let notches = |v: &str| {
                v.parse::<i32>()
                    .ok()
                    .filter(|n| n.abs() <= 1000)
                    .ok_or_else(|| format!("{v:?} is not a number of wheel notches"))
            };
            Ok(Step::Scroll {
                dx: notches(args[0])?,
                dy: notches(args[1])?,
            })
        }
        "type" => {
            // The rest of the line as written, inner spaces included; one separator space
            // after the verb is not part of the text.
            let text = text.strip_prefix("type").unwrap_or_default();
            let text = text.strip_prefix([' ', '\t']).unwrap_or(text);
            if text.is_empty() {
                return Err("type needs the text to type".into());
            }
            Ok(Step::Type {
                text: text.to_string(),
            })
        }
        "key" => {
            arity(1, 1)?;
            parse_combo(args[0])
        }
        "wait-idle" => {
            arity(0, 0)?;
            Ok(Step::WaitIdle)
        }
        "screenshot" => {
            arity(1, 1)?;
            Ok(Step::Screenshot {
                path: args[0].into(),
            })
        }
        "expect" => parse_expect(&args),
        "sleep" => {
            arity(1, 1)?;
            let ms = args[0]
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= 3_600_000)
                .ok_or_else(|| format!("{:?} is not a number of milliseconds", args[0]))?;
            Ok(Step::Sleep { ms })
        }
        "" => Err("empty step".into()),
        other => Err(format!(
            "unknown step {other:?} (wait-window, click, move, scroll, type, key, wait-idle, \
             screenshot, expect, sleep)"
        )),
    }
}

fn coordinate(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|c| c.is_finite() && (0.0..=65535.0).contains(c))
        .ok_or_else(|| format!("{v:?} is not an output coordinate (0 to 65535)"))
}

fn parse_expect(args: &[&str]) -> Result<Step, String> {
    let mut reference = None;
    let mut fuzz = None;
    let mut clip = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "--fuzz" => {
                let v = it.next().ok_or("--fuzz needs a value")?;
                fuzz = Some(parse_fuzz(v)?);
            }
            "--clip" => {
                let v = it.next().ok_or("--clip needs a value")?;
                clip = Some(parse_clip(v)?);
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            path if reference.is_none() => reference = Some(PathBuf::from(path)),
            extra => return Err(format!("unexpected argument {extra:?}")),
        }
    }
    Ok(Step::Expect {
        reference: reference.ok_or("expect needs a reference PNG")?,
        fuzz,
        clip,
    })
}

/// `Return`, `ctrl+s`, `shift+Tab`, `ctrl+alt+Delete`: modifiers by their common names,
/// the key by its keysym name.
pub fn parse_combo(combo: &str) -> Result<Step, String> {
    let parts: Vec<&str> = combo.split('+').collect();
    let (key, mods) = match parts.split_last() {
        // `ctrl++` names the plus key.
        Some((&"", rest)) if combo.ends_with("++") => ("plus", &rest[..rest.len() - 1]),
        Some((key, rest)) => (*key, rest),
        None => return Err("key needs a key name".into()),
    };
    let modifiers = mods
        .iter()
        .map(|m| modifier_keysym(m))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Step::Key {
        modifiers,
        key: keysym(key)?,
    })
}

fn modifier_keysym(name: &str) -> Result<Keysym, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "ctrl" | "control" => Keysym::from(keysyms::KEY_Control_L),
        "shift" => Keysym::from(keysyms::KEY_Shift_L),
        "alt" => Keysym::from(keysyms::KEY_Alt_L),
        "super" | "logo" | "meta" => Keysym::from(keysyms::KEY_Super_L),
        "altgr" => Keysym::from(keysyms::KEY_ISO_Level3_Shift),
        other => {
            return Err(format!(
                "unknown modifier {other:?} (ctrl, shift, alt, super, altgr)"
            ))
        }
    })
}

/// A keysym by its XKB name (`Return`, `a`, `F5`); case-sensitive first, as XKB names
/// are, then case-insensitively.
pub fn keysym(name: &str) -> Result<Keysym, String> {
    if name.is_empty() {
        return Err("empty key name".into());
    }
    let exact = xkb::keysym_from_name(name, xkb::KEYSYM_NO_FLAGS);
    if exact.raw() != keysyms::KEY_NoSymbol {
        return Ok(exact);
    }
    let loose = xkb::keysym_from_name(name, xkb::KEYSYM_CASE_INSENSITIVE);
    if loose.raw() != keysyms::KEY_NoSymbol {
        return Ok(loose);
    }
    Err(format!(
        "unknown key name {name:?} (XKB keysym names: Return, Tab, a, F5 …)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_parses() {
        let script = "\
# a comment

wait-window Form
click 10 20
click 10.5 20 right
move 3 4
scroll 0 -2
type hello  world
key ctrl+s
key Return
wait-idle
screenshot out.png
expect ref.png --fuzz 2 --clip 0,0,10,10
sleep 250
";
        let steps = parse_script(script).unwrap();
        assert_eq!(steps.len(), 12);
        assert_eq!(steps[0].line, 3);
        assert_eq!(
            steps[0].step,
            Step::WaitWindow {
                title: "Form".into()
            }
        );
        assert_eq!(
            steps[2].step,
            Step::Click {
                x: 10.5,
                y: 20.0,
                button: BTN_RIGHT
            }
        );
        assert_eq!(steps[4].step, Step::Scroll { dx: 0, dy: -2 });
        assert_eq!(
            steps[5].step,
            Step::Type {
                text: "hello  world".into()
            }
        );
        assert_eq!(
            steps[6].step,
            Step::Key {
                modifiers: vec![Keysym::from(keysyms::KEY_Control_L)],
                key: Keysym::from(keysyms::KEY_s)
            }
        );
        assert!(matches!(
            &steps[10].step,
            Step::Expect {
                fuzz: Some(_),
                clip: Some(_),
                ..
            }
        ));
        assert_eq!(steps[11].step, Step::Sleep { ms: 250 });
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_script("wait-window\nclick 1\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("click takes"), "{err}");
        assert_eq!(parse_script("key ctrl+Nonsense").unwrap_err().line, 1);
        assert!(parse_step("click 1 2 fourth").is_err());
        assert!(parse_step("scroll a b").is_err());
        assert!(parse_step("frobnicate").is_err());
        assert!(parse_step("type").is_err());
        assert!(parse_step("expect").is_err());
        assert!(parse_step("expect a.png --fuzz").is_err());
        assert!(parse_step("move -1 3").is_err());
        assert!(parse_step("key hyper+a").is_err());
    }

    #[test]
    fn combos_resolve_keysyms() {
        assert_eq!(
            parse_combo("shift+Tab").unwrap(),
            Step::Key {
                modifiers: vec![Keysym::from(keysyms::KEY_Shift_L)],
                key: Keysym::from(keysyms::KEY_Tab)
            }
        );
        assert_eq!(
            parse_combo("ctrl++").unwrap(),
            Step::Key {
                modifiers: vec![Keysym::from(keysyms::KEY_Control_L)],
                key: Keysym::from(keysyms::KEY_plus)
            }
        );
        assert_eq!(keysym("return").unwrap(), Keysym::from(keysyms::KEY_Return));
    }
}
