//! The app's public URLs, built with the URL parser and never by pasting text: the app name
//! (checked as a Fly name first) fills exactly one whole host label or one whole path segment
//! of `FLY_APP_URL_TEMPLATE`, and a health path is pushed segment by segment. An app named
//! `127.0.0.1:8080/x?` or `../../etc` can therefore neither pick the host nor climb the path.

use reqwest::Url;

use super::APP_URL_TEMPLATE_VAR;
use crate::core::desired::names;
use crate::providers::http;

/// What stands for `{app}` while the template is parsed: a valid host label and path
/// segment that no real template holds.
const SLOT: &str = "sophia-app-slot-0";

/// `s` with control characters escaped (`\u{1b}`), for messages.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The public URL of `app` under `template` (`https://{app}.fly.dev`,
/// `http://127.0.0.1:4000/fly/apps/{app}`).
pub fn app_url(template: &str, app: &str) -> Result<Url, String> {
    names::fly_name(app).map_err(|e| {
        format!(
            "`{}` is not a Fly app name: {}",
            printable(app),
            printable(&e)
        )
    })?;
    if template.matches("{app}").count() != 1 {
        return Err(format!(
            "`{APP_URL_TEMPLATE_VAR}` must hold `{{app}}` exactly once, e.g. `https://{{app}}.fly.dev`"
        ));
    }
    // Only the configured template is edited as text, and only to parse it: the app name
    // goes in through the parsed URL's host or path setters below.
    let mut url = http::parse_base(APP_URL_TEMPLATE_VAR, &template.replace("{app}", SLOT))
        .map_err(|e| e.to_string())?;
    if let Some(host) = url.host_str().map(str::to_string)
        && host.split('.').any(|l| l == SLOT)
    {
        let host: Vec<&str> = host
            .split('.')
            .map(|l| if l == SLOT { app } else { l })
            .collect();
        url.set_host(Some(&host.join(".")))
            .map_err(|e| format!("`{APP_URL_TEMPLATE_VAR}` with app `{app}`: {e}"))?;
        return Ok(url);
    }
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.map(str::to_string).collect())
        .unwrap_or_default();
    if segments.iter().any(|s| s == SLOT) {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| format!("`{APP_URL_TEMPLATE_VAR}` has no path"))?;
        path.clear();
        for s in &segments {
            path.push(if s == SLOT { app } else { s });
        }
        drop(path);
        return Ok(url);
    }
    Err(format!(
        "`{{app}}` in `{APP_URL_TEMPLATE_VAR}` must be a whole host label \
         (`https://{{app}}.fly.dev`) or a whole path segment (`http://host/apps/{{app}}`)"
    ))
}

/// `base` with the health `path` appended segment by segment (percent-encoded, so `?` and
/// `#` stay in the path). A path that does not start with `/`, holds control characters, or
/// has a `.` or `..` segment is refused.
pub fn health_url(base: &Url, path: &str) -> Result<Url, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "health path `{}` does not start with `/`",
            printable(path)
        ));
    };
    if path.chars().any(char::is_control) {
        return Err(format!(
            "health path `{}` holds control characters",
            printable(path)
        ));
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| matches!(*s, "." | "..")) {
        return Err(format!(
            "health path `{path}` has a `.` or `..` segment: it must stay under the app's URL"
        ));
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|_| format!("`{APP_URL_TEMPLATE_VAR}` has no path"))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLY: &str = "https://{app}.fly.dev";
    const SANDBOX: &str = "http://127.0.0.1:4000/fly/apps/{app}";

    #[test]
    fn the_app_fills_a_host_label_or_a_path_segment() {
        assert_eq!(
            app_url(FLY, "dash-v2").unwrap().as_str(),
            "https://dash-v2.fly.dev/"
        );
        assert_eq!(
            app_url(SANDBOX, "dash-v2").unwrap().as_str(),
            "http://127.0.0.1:4000/fly/apps/dash-v2"
        );
    }

    #[test]
    fn injected_hosts_and_paths_are_refused() {
        for app in [
            "127.0.0.1:9/x?",
            "../../etc",
            "a.b",
            "a/b",
            "A",
            "x\u{1b}[2J",
            "",
        ] {
            let e = app_url(FLY, app).unwrap_err();
            assert!(e.contains("is not a Fly app name"), "{app}: {e}");
            assert!(!e.contains('\u{1b}'), "{e}");
            assert!(app_url(SANDBOX, app).is_err(), "{app}");
        }
    }

    #[test]
    fn templates_must_place_the_app_whole() {
        for t in [
            "https://x{app}.fly.dev",
            "https://fly.dev/?app={app}",
            "https://fly.dev",
            "https://{app}.{app}.dev",
        ] {
            assert!(app_url(t, "dash").is_err(), "{t}");
        }
    }

    #[test]
    fn health_paths_stay_under_the_app() {
        let base = app_url(SANDBOX, "dash").unwrap();
        assert_eq!(
            health_url(&base, "/healthz").unwrap().as_str(),
            "http://127.0.0.1:4000/fly/apps/dash/healthz"
        );
        assert_eq!(
            health_url(&base, "/a?b#c").unwrap().path(),
            "/fly/apps/dash/a%3Fb%23c"
        );
        let root = app_url(FLY, "dash").unwrap();
        assert_eq!(
            health_url(&root, "/").unwrap().as_str(),
            "https://dash.fly.dev/"
        );
        assert_eq!(
            health_url(&root, "/up").unwrap().as_str(),
            "https://dash.fly.dev/up"
        );
        for bad in ["healthz", "/../../etc", "/a/./b", "/a\nb"] {
            assert!(health_url(&base, bad).is_err(), "{bad}");
        }
    }
}
