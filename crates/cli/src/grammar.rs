//! The one flag grammar (docs/CLI.md): deprecation notes for old spellings, and the test that
//! walks every subcommand's clap definition against the grammar's table.
//!
//! A flag renamed for the grammar keeps its old spelling as a hidden clap alias for one release;
//! [`deprecation_notes`] finds such spellings in the command line (generically, from the aliases
//! clap knows) so that `main` can say what to write instead.

use clap::Command;

/// The subcommand a command line selects (`trial power`), followed through nested subcommands.
fn selected<'a>(root: &'a Command, argv: &[String]) -> &'a Command {
    let mut cmd = root;
    for word in argv.iter().skip(1).filter(|w| !w.starts_with('-')) {
        match cmd.find_subcommand(word) {
            Some(sub) => cmd = sub,
            None => break,
        }
    }
    cmd
}

/// One note per deprecated spelling in `argv`: a flag given by a hidden alias, power's
/// `--measurement normal`, and trial's `--builtin DESIGN` (a design is `--design` now).
pub fn deprecation_notes(root: &Command, argv: &[String]) -> Vec<String> {
    let cmd = selected(root, argv);
    let mut notes = Vec::new();
    for (i, word) in argv.iter().enumerate() {
        let Some(name) = word.strip_prefix("--") else {
            continue;
        };
        let name = name.split('=').next().unwrap_or(name);
        let value = word
            .split_once('=')
            .map(|(_, v)| v.to_string())
            .or_else(|| argv.get(i + 1).cloned())
            .unwrap_or_default();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let aliases = arg.get_all_aliases().unwrap_or_default();
            if long == name && arg.is_hide_set() {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                notes.push(format!("note: --{name} is a deprecated spelling here: {help} (kept for one release; see docs/CLI.md)"));
            }
            if long != name && aliases.contains(&name) {
                notes.push(format!(
                    "note: --{name} is a deprecated spelling of --{long} here (kept for one release; see docs/CLI.md)"
                ));
            }
            let given = name == long || aliases.contains(&name);
            if long == "measurement" && given && value == "normal" {
                notes.push(
                    "note: --measurement normal is a deprecated spelling of --measurement scores"
                        .into(),
                );
            }
            let trial = cmd.get_arguments().any(|a| a.get_long() == Some("design"));
            if long == "builtin"
                && name == "builtin"
                && trial
                && balans_trial::builtin::builtin_design(&value).is_ok()
            {
                notes.push(format!(
                    "note: --builtin {value} is a deprecated spelling of --design {value} (--builtin names the population model in every command)"
                ));
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::CommandFactory;
    use std::collections::BTreeMap;

    /// Every leaf subcommand with its path (`trial power`).
    fn leaves(cmd: &Command, path: String, out: &mut Vec<(String, Command)>) {
        let subs: Vec<&Command> = cmd
            .get_subcommands()
            .filter(|s| s.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push((path.clone(), cmd.clone()));
        }
        for s in subs {
            let p = if path.is_empty() {
                s.get_name().to_string()
            } else {
                format!("{path} {}", s.get_name())
            };
            leaves(s, p, out);
        }
    }

    /// The value kind of an argument as the grammar and `--help` write it: its value names
    /// (`FILE`, `NAME=V,…`; an enum's id in capitals, e.g. `FORMAT`), `—` for a switch.
    fn value_kind(arg: &clap::Arg) -> String {
        if !arg.get_action().takes_values() {
            return "—".into();
        }
        if let Some(names) = arg.get_value_names() {
            return names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(" ");
        }
        arg.get_id().as_str().to_uppercase()
    }

    /// The grammar table of docs/CLI.md: flag → (accepted value kinds, meaning).
    fn grammar() -> BTreeMap<String, Vec<String>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CLI.md");
        let text = std::fs::read_to_string(path).expect("docs/CLI.md");
        let mut table = BTreeMap::new();
        for line in text.lines() {
            // `\|` is a bar inside a cell (a value kind such as `V|LOW:HIGH`).
            let line = line.replace("\\|", "\u{1}");
            let cells: Vec<String> = line
                .split('|')
                .map(|c| c.trim().replace('\u{1}', "|"))
                .collect();
            if cells.len() < 4 || !cells[1].starts_with("`--") {
                continue;
            }
            let flag = cells[1].trim_matches('`').to_string();
            let kinds = cells[2]
                .split(" or ")
                .map(|k| k.trim().trim_matches('`').to_string())
                .collect();
            assert!(
                table.insert(flag.clone(), kinds).is_none(),
                "docs/CLI.md lists {flag} twice"
            );
        }
        table
    }

    /// One name = one meaning and one value kind: every visible flag of every subcommand is in
    /// the grammar table of docs/CLI.md with one of the value kinds listed there.
    #[test]
    fn every_flag_follows_the_grammar() {
        let table = grammar();
        let mut all = Vec::new();
        leaves(&Cli::command(), String::new(), &mut all);
        let mut problems = Vec::new();
        for (path, cmd) in &all {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let Some(long) = arg.get_long() else { continue };
                if long == "help" || long == "version" {
                    continue;
                }
                let flag = format!("--{long}");
                let kind = value_kind(arg);
                match table.get(&flag) {
                    None => problems.push(format!("{path}: {flag} <{kind}> is not in docs/CLI.md")),
                    Some(kinds) if !kinds.contains(&kind) => problems.push(format!(
                        "{path}: {flag} takes <{kind}>, docs/CLI.md says {kinds:?}"
                    )),
                    Some(_) => {}
                }
            }
        }
        assert!(
            problems.is_empty(),
            "flags off the grammar:\n{}",
            problems.join("\n")
        );
    }

    /// Every command that produces a result takes `--out` and `--format` (or writes a folder or a
    /// page whose format is fixed, listed here with the reason).
    #[test]
    fn result_commands_take_out_and_format() {
        // (command, why it has no --format)
        const FIXED_FORMAT: &[(&str, &str)] = &[
            ("diagram", "always SVG"),
            ("report", "always HTML"),
            ("teach class", "a folder of CSV and HTML files"),
            ("teach demo", "always an HTML page"),
            ("model print", "always lavaan syntax"),
        ];
        // completions and model list print fixed text; slurm writes a folder of scripts (--dir).
        const NO_RESULT: &[&str] = &["completions", "model list", "slurm"];
        let mut all = Vec::new();
        leaves(&Cli::command(), String::new(), &mut all);
        let mut problems = Vec::new();
        for (path, cmd) in &all {
            if NO_RESULT.contains(&path.as_str()) {
                continue;
            }
            let has = |f: &str| cmd.get_arguments().any(|a| a.get_long() == Some(f));
            if !has("out") {
                problems.push(format!("{path}: no --out"));
            }
            if !has("format") && !FIXED_FORMAT.iter().any(|(c, _)| c == path) {
                problems.push(format!("{path}: no --format"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn old_spellings_get_a_note() {
        let root = Cli::command();
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let notes = deprecation_notes(&root, &argv("balans power --data items --missing mcar:0.1"));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("--data is a deprecated spelling of --measurement"),
            "{notes:?}"
        );
        let notes = deprecation_notes(&root, &argv("balans trial power --builtin dutch"));
        assert!(notes[0].contains("--design dutch"), "{notes:?}");
        let notes = deprecation_notes(
            &root,
            &argv("balans trial power --design dutch --builtin seed"),
        );
        assert!(notes.is_empty(), "{notes:?}");
        assert!(deprecation_notes(&root, &argv("balans fit --data x.csv --level 0.9")).is_empty());
    }
}
