//! Images pinned by digest (DESIGN.md, "Images by digest"). Pure.
//!
//! `plan` resolves every desired image tag through the registry (the shell does the reading,
//! [`crate::providers::fly`]); the resolved digests come in as data ([`Resolved`], carried by
//! the live snapshot's `images`), and [`planned`] gives each Fly app's `image` as
//! `name@sha256:…` as the planner lowers it, so the plan's changes and actions — and so its
//! digest and signature — name the exact bytes apply deploys. An image already given by digest is kept.
//!
//! A reference is read with the grammar of the distribution spec, as far as sophia needs it:
//! `name[:tag][@digest]`, where the tag is after the last `:` that follows the last `/` (a
//! registry's `host:port` is not a tag). Hand-written because that is all sophia needs: the
//! crates that parse references (`oci-spec`, `oci-client`) bring builders, their own HTTP
//! stack or Docker Hub's normalization that Fly's registry does not use.

use std::collections::BTreeMap;

use crate::core::desired::Desired;

/// Fly's registry: the images `FLY_REGISTRY_URL` resolves.
pub const FLY_REGISTRY_HOST: &str = "registry.fly.io";

/// Image reference (as desired/ writes it) → its digest (`sha256:<64 hex>`).
pub type Resolved = BTreeMap<String, String>;

/// A reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest, e.g. `registry.fly.io/dash`.
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    pub fn parse(image: &'a str) -> ImageRef<'a> {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (image, None),
        };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        ImageRef { name, tag, digest }
    }

    /// The registry host, when the first component names one (a `.`, a `:` or `localhost`).
    pub fn registry(&self) -> Option<&'a str> {
        let (first, _) = self.name.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }

    /// The repository inside its registry: `dash` for `registry.fly.io/dash`.
    pub fn repository(&self) -> &'a str {
        match self.registry() {
            Some(host) => &self.name[host.len() + 1..],
            None => self.name,
        }
    }

    /// The tag a registry is asked for: the one written, else `latest`.
    pub fn tag_or_latest(&self) -> &'a str {
        self.tag.unwrap_or("latest")
    }
}

/// `name@digest`: how apply deploys an image.
pub fn pinned(image: &str, digest: &str) -> String {
    format!("{}@{digest}", ImageRef::parse(image).name)
}

/// Whether `d` is a digest sophia pins: `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The image a live machine runs, as it compares with a pinned desired image: its configured
/// image with the registry's digest (`image_ref.digest`) when the machine reports one, so a
/// machine deployed by tag (`fly deploy`) that runs the desired digest shows no change, and
/// one running another digest under the same tag shows the digest change.
pub fn live_image(config_image: &str, digest: Option<&str>) -> String {
    match digest.filter(|d| is_sha256_digest(d)) {
        Some(d) => pinned(config_image, d),
        None => config_image.to_string(),
    }
}

/// The tags desired/ names that need resolving (images not already given by digest), each
/// with the apps that run it.
pub fn tags(desired: &Desired) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, app) in desired.fly.iter().flat_map(|f| &f.apps) {
        if let Some(image) = &app.image
            && ImageRef::parse(image).digest.is_none()
        {
            out.entry(image.clone()).or_default().push(name.clone());
        }
    }
    out
}

/// A desired image tag with no resolved digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub app: String,
    pub image: String,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the live snapshot holds no digest for the image `{}` of `fly.app.{}`",
            self.image, self.app
        )
    }
}

/// `desired` with every Fly app's image tag that `resolved` holds replaced by
/// `name@digest`; an image already given by digest is kept, and so is a tag `resolved` does
/// not hold (the planner pins what the live state resolved: a refresh fails on a tag it
/// cannot resolve, and a plan from a snapshot without the digest warns, [`unresolved`]).
///
/// Borrowed when there is nothing to pin. The planner pins each image as it lowers it
/// ([`planned`]) instead of copying the state; this whole-state form is the tests' reference.
#[cfg(test)]
pub(crate) fn pin<'a>(desired: &'a Desired, resolved: &Resolved) -> std::borrow::Cow<'a, Desired> {
    let pin_of = |image: &String| pin_tag(image, resolved);
    let apps = || desired.fly.iter().flat_map(|f| &f.apps);
    if !apps().any(|(_, app)| app.image.as_ref().and_then(pin_of).is_some()) {
        return std::borrow::Cow::Borrowed(desired);
    }
    let mut out = desired.clone();
    for app in out.fly.iter_mut().flat_map(|f| f.apps.values_mut()) {
        if let Some(p) = app.image.as_ref().and_then(pin_of) {
            app.image = Some(p);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The image a plan deploys for a desired `image`: `name@digest` when it is a tag `resolved`
/// holds, else `image` as written (the planner pins each app's image
/// as it lowers it, without copying the desired state).
pub fn planned<'a>(image: &'a str, resolved: &Resolved) -> std::borrow::Cow<'a, str> {
    match pin_tag(image, resolved) {
        Some(p) => std::borrow::Cow::Owned(p),
        None => std::borrow::Cow::Borrowed(image),
    }
}

fn pin_tag(image: &str, resolved: &Resolved) -> Option<String> {
    if ImageRef::parse(image).digest.is_some() {
        return None;
    }
    resolved.get(image).map(|digest| pinned(image, digest))
}

/// The tag a pinned image (`name@digest`) was resolved from, per `resolved`.
pub fn tag_of(image: &str, resolved: &Resolved) -> Option<String> {
    let r = ImageRef::parse(image);
    let digest = r.digest?;
    resolved
        .iter()
        .find(|(tag, d)| d.as_str() == digest && ImageRef::parse(tag).name == r.name)
        .map(|(tag, _)| tag.clone())
}

/// The desired image tags without a digest in `resolved` (each with its first app).
pub fn unresolved(desired: &Desired, resolved: &Resolved) -> Vec<Unresolved> {
    tags(desired)
        .into_iter()
        .filter(|(image, _)| !resolved.contains_key(image))
        .map(|(image, apps)| Unresolved {
            app: apps[0].clone(),
            image,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_split_as_the_distribution_grammar_reads_them() {
        let r = ImageRef::parse("registry.fly.io/dash:1");
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("registry.fly.io/dash", Some("1"), None)
        );
        assert_eq!(
            (r.registry(), r.repository()),
            (Some("registry.fly.io"), "dash")
        );
        // A port is not a tag; no tag means `latest`.
        let r = ImageRef::parse("localhost:5000/team/app");
        assert_eq!((r.name, r.tag), ("localhost:5000/team/app", None));
        assert_eq!(
            (r.registry(), r.repository()),
            (Some("localhost:5000"), "team/app")
        );
        assert_eq!(r.tag_or_latest(), "latest");
        // Tag and digest: the digest wins when pinning.
        let with = format!("registry.fly.io/dash:1@{D}");
        let r = ImageRef::parse(&with);
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("registry.fly.io/dash", Some("1"), Some(D))
        );
        // Docker Hub's short names have no registry.
        assert_eq!(ImageRef::parse("nginx:1.25").registry(), None);
    }

    #[test]
    fn live_machines_read_as_name_at_their_digest() {
        assert_eq!(
            live_image("registry.fly.io/dash:1", Some(D)),
            format!("registry.fly.io/dash@{D}")
        );
        assert_eq!(
            live_image("registry.fly.io/dash:1", None),
            "registry.fly.io/dash:1"
        );
        // A digest that is not one (an old machine's empty or odd field) is ignored.
        assert_eq!(live_image("x:1", Some("")), "x:1");
        assert_eq!(live_image("x:1", Some("sha256:AB")), "x:1");
    }

    #[test]
    fn pinning_rewrites_tags_keeps_digests_and_names_what_is_missing() {
        let desired = crate::core::desired::load(&[crate::core::desired::Source {
            path: "desired/fly.yaml".into(),
            text: format!(
                "fly:\n  apps:\n    aa: {{ image: 'registry.fly.io/a:1' }}\n    bb: {{ image: 'registry.fly.io/b@{D}' }}\n    cc: {{ image: 'registry.fly.io/a:1' }}\n"
            ),
        }])
        .unwrap();
        assert_eq!(
            tags(&desired),
            BTreeMap::from([("registry.fly.io/a:1".into(), vec!["aa".into(), "cc".into()])])
        );
        let resolved = Resolved::from([("registry.fly.io/a:1".into(), D.into())]);
        let pinned = pin(&desired, &resolved);
        assert_eq!(unresolved(&desired, &resolved), []);
        let a = pinned.fly.as_ref().unwrap().apps["aa"]
            .image
            .clone()
            .unwrap();
        assert_eq!(
            tag_of(&a, &resolved).as_deref(),
            Some("registry.fly.io/a:1")
        );
        let apps = &pinned.fly.as_ref().unwrap().apps;
        assert_eq!(
            apps["aa"].image.as_deref(),
            Some(format!("registry.fly.io/a@{D}").as_str())
        );
        assert_eq!(
            apps["bb"].image.as_deref(),
            Some(format!("registry.fly.io/b@{D}").as_str())
        );
        // Unresolved: the planner keeps the tag, `unresolved` names it.
        assert!(matches!(
            pin(&desired, &Resolved::new()),
            std::borrow::Cow::Borrowed(d) if *d == desired
        ));
        let e = unresolved(&desired, &Resolved::new()).remove(0);
        assert_eq!(
            (e.app.as_str(), e.image.as_str()),
            ("aa", "registry.fly.io/a:1")
        );
        assert!(is_sha256_digest(D));
        assert!(!is_sha256_digest("sha256:"));
    }
}
