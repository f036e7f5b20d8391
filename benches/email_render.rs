//! Renders per second of complete emails (subject, html and text) with the built-in templates.
//! Run: `cargo bench --bench email_render`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cms_invitations::domain::MessageKind;
use cms_invitations::email::{EmailContext, EmailTemplates};

fn main() {
    let templates = EmailTemplates::builtin().expect("the built-in templates compile");
    // `cargo test --all-targets` runs bench binaries without `--bench`: render each once only.
    if !std::env::args().any(|arg| arg == "--bench") {
        for kind in MessageKind::ALL {
            for locale in templates.locales() {
                templates
                    .render(&locale, &EmailContext::sample(kind, &locale, true))
                    .unwrap();
            }
        }
        return;
    }
    println!("kind                 locale  renders/s   µs/render");
    for kind in MessageKind::ALL {
        for locale in templates.locales() {
            let context = EmailContext::sample(kind, &locale, true);
            // Warm up, then render for about one second.
            for _ in 0..200 {
                std::hint::black_box(templates.render(&locale, &context).unwrap());
            }
            let started = Instant::now();
            let mut renders = 0u64;
            while started.elapsed() < Duration::from_secs(1) {
                for _ in 0..100 {
                    std::hint::black_box(templates.render(&locale, &context).unwrap());
                }
                renders += 100;
            }
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{:<20} {:<7} {:>9.0} {:>11.1}",
                kind.as_str(),
                locale,
                renders as f64 / seconds,
                seconds * 1e6 / renders as f64
            );
        }
    }
}
