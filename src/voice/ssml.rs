//! Spoken answers as plain text and as SSML, both within Alexa's 8,000-character limit.
//!
//! Why it exists: meeting subjects come from other people's calendars and may hold `&`, `<`
//! or `>`; put unescaped into SSML they make the document invalid and Alexa says nothing at
//! all. An answer is kept as a list of sentences, and both renderings are built from it: the
//! text joined by spaces, the SSML escaped inside one `<speak>` root with short pauses between
//! sentences. When an answer would pass the cap (a verbose summary of a very busy day), whole
//! trailing sentences are dropped and one closing sentence says so, so the cut is never
//! mid-word and the XML stays valid.

/// Alexa's limit on the characters of one outputSpeech (text or SSML).
pub const MAX_SPEECH_CHARS: usize = 8_000;

/// What is said when sentences had to be dropped to fit the cap.
const TRUNCATED: &str = "There is more on your calendar.";

/// Escape text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0; speech needs none of them.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An answer to be spoken: sentences, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Speech {
    sentences: Vec<String>,
}

impl Speech {
    /// An empty answer.
    pub fn new() -> Self {
        Speech::default()
    }

    /// Add one sentence (ignored when empty).
    pub fn say(&mut self, sentence: impl Into<String>) {
        let s: String = sentence.into();
        let s = s.trim();
        if !s.is_empty() {
            self.sentences.push(s.to_string());
        }
    }

    /// The sentences.
    pub fn sentences(&self) -> &[String] {
        &self.sentences
    }

    /// Plain text, at most `MAX_SPEECH_CHARS` characters.
    pub fn text(&self) -> String {
        self.render(|s| s.to_string(), " ", "", "", MAX_SPEECH_CHARS)
    }

    /// SSML rooted at `<speak>`, escaped, at most `MAX_SPEECH_CHARS` characters.
    pub fn ssml(&self) -> String {
        self.render(
            escape,
            " <break time=\"300ms\"/> ",
            "<speak>",
            "</speak>",
            MAX_SPEECH_CHARS,
        )
    }

    /// Join rendered sentences between `open` and `close`, dropping trailing sentences (and
    /// adding [`TRUNCATED`]) when the whole would exceed `cap` characters.
    fn render(
        &self,
        one: impl Fn(&str) -> String,
        sep: &str,
        open: &str,
        close: &str,
        cap: usize,
    ) -> String {
        let chars = |s: &str| s.chars().count();
        let rendered: Vec<String> = self.sentences.iter().map(|s| one(s)).collect();
        let full: usize = chars(open)
            + chars(close)
            + rendered.iter().map(|s| chars(s)).sum::<usize>()
            + chars(sep) * rendered.len().saturating_sub(1);
        if full <= cap {
            return format!("{open}{}{close}", rendered.join(sep));
        }
        let tail = one(TRUNCATED);
        let budget = cap - chars(open) - chars(close) - chars(&tail);
        let mut kept: Vec<&str> = Vec::new();
        let mut used = 0;
        for s in &rendered {
            let add = chars(s) + chars(sep);
            if used + add > budget {
                break;
            }
            used += add;
            kept.push(s);
        }
        kept.push(&tail);
        format!("{open}{}{close}", kept.join(sep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse as XML (strictly) and list the element names in document order.
    fn well_formed(xml: &str) -> Result<Vec<String>, String> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| e.to_string())?;
        Ok(doc
            .descendants()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name().to_string())
            .collect())
    }

    #[test]
    fn escapes_markup_in_subjects() {
        let mut sp = Speech::new();
        sp.say("Your next meeting is R&D <sync> \"Q3\" at 5:00 pm.");
        let ssml = sp.ssml();
        assert_eq!(
            ssml,
            "<speak>Your next meeting is R&amp;D &lt;sync&gt; &quot;Q3&quot; at 5:00 pm.</speak>"
        );
        let tags = well_formed(&ssml).unwrap();
        assert_eq!(tags, ["speak"]);
        // The plain text keeps the subject as it is.
        assert_eq!(
            sp.text(),
            "Your next meeting is R&D <sync> \"Q3\" at 5:00 pm."
        );
    }

    #[test]
    fn injected_tags_stay_text() {
        let mut sp = Speech::new();
        sp.say("</speak><audio src='x'/>");
        sp.say("second");
        let ssml = sp.ssml();
        assert!(ssml.starts_with("<speak>") && ssml.ends_with("</speak>"));
        let tags = well_formed(&ssml).unwrap();
        assert_eq!(tags, ["speak", "break"]);
        assert!(!ssml.contains("<audio"));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{7}c"), "a b c");
    }

    #[test]
    fn long_answers_are_cut_at_a_sentence_and_stay_valid() {
        let mut sp = Speech::new();
        for i in 0..400 {
            sp.say(format!(
                "Meeting {i} is A&B <review> with a long subject line at 10:00 am."
            ));
        }
        let ssml = sp.ssml();
        assert!(ssml.chars().count() <= MAX_SPEECH_CHARS, "{}", ssml.len());
        well_formed(&ssml).unwrap();
        assert!(ssml.ends_with(&format!("{}</speak>", escape(TRUNCATED))));
        assert!(ssml.contains("Meeting 0 is"));
        let text = sp.text();
        assert!(text.chars().count() <= MAX_SPEECH_CHARS);
        assert!(text.ends_with(TRUNCATED));
        // Nothing was cut mid-sentence: every kept sentence is whole.
        for s in text.split(". ").filter(|s| s.starts_with("Meeting")) {
            assert!(s.contains("at 10:00 am"), "{s}");
        }
    }

    #[test]
    fn short_answers_are_untouched() {
        let mut sp = Speech::new();
        sp.say("One.");
        sp.say("  ");
        sp.say("Two.");
        assert_eq!(sp.text(), "One. Two.");
        assert_eq!(
            sp.ssml(),
            "<speak>One. <break time=\"300ms\"/> Two.</speak>"
        );
        assert_eq!(sp.sentences().len(), 2);
    }
}
