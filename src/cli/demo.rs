//! `sophia demo`: the whole loop in a temporary directory, against the embedded sandbox (see
//! [`crate::ops::demo`]). It prints on stdout (the walk through is what the command
//! produces), reads the same without colour, and exits 0 when every step behaved as it
//! should, 1 naming the step otherwise.

use super::{Ctx, Exit};
use crate::apply::Progress;
use crate::core::plan::{Action, Plan};
use crate::core::render;
use crate::ops::demo::{DemoRequest, Narrator, STEPS, demo};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the demo directory (desired state, plan, signature, proofs) and print its path.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let say = Say { color: ctx.color };
    say.title("sophia demo: the whole loop, against a local sandbox");
    let demoed = demo(&DemoRequest { keep: args.keep }, &say).await?;
    say.blank();
    let kept = || {
        if let Some(path) = &demoed.kept {
            say.line(&format!(
                "The demo directory is kept at {}.",
                path.display()
            ));
        }
    };
    match demoed.walk {
        Ok(()) => {
            say.title(&format!(
                "Every step behaved as expected ({:.1}s).",
                demoed.elapsed.as_secs_f64()
            ));
            say.line("Next: README.md walks through the pull-request workflow; `sophia sandbox serve` runs");
            say.line("this sandbox on its own so you can point any sophia command at it.");
            kept();
            Ok(Exit::Clean)
        }
        Err(e) => {
            kept();
            Err(e.context("the demo did not behave as expected"))
        }
    }
}

/// How the demo prints: on stdout, headings and indented detail, colour only on a terminal.
struct Say {
    color: bool,
}

impl Say {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn title(&self, s: &str) {
        println!("{}", self.paint("1", s));
    }

    fn blank(&self) {
        println!();
    }
}

impl Narrator for Say {
    fn line(&self, s: &str) {
        println!("{s}");
    }

    fn step(&self, n: usize, what: &str) {
        println!();
        println!("{}", self.paint("1", &format!("Step {n}/{STEPS}: {what}")));
    }

    fn why(&self, s: &str) {
        println!("  {}", self.paint("2", s));
    }

    fn done(&self, s: &str) {
        println!("  {} {s}", self.paint("32", "=>"));
    }

    /// A block of output (a plan, a file), indented by four spaces.
    fn block(&self, text: &str) {
        println!();
        for l in text.lines() {
            if l.is_empty() {
                println!();
            } else {
                println!("    {l}");
            }
        }
    }

    fn plan(&self, plan: &Plan) {
        self.block(&render::text::render(plan, self.color));
    }

    fn file(&self, name: &str, text: &str) {
        println!();
        println!("    --- {name}");
        for l in text.lines() {
            println!("    {l}");
        }
        println!("    ---");
    }

    fn progress(&self) -> &dyn Progress {
        self
    }
}

/// Apply progress, one line per action.
impl Progress for Say {
    fn started(&self, total: usize) {
        self.line(&format!("  running {total} actions:"));
    }

    fn action_done(&self, action: &Action, outcome: &str, millis: u64) {
        self.line(&format!("    {outcome:<9} {} ({millis} ms)", action.id));
    }

    fn finished(&self) {}
}
