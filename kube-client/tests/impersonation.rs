//! Impersonation (`as`, `as-uid`, `as-groups`, `as-user-extra`) against the in-process
//! apiserver, whose authenticator here does what kube-apiserver's impersonation filter does:
//! the bearer token says who is asking, the `Impersonate-*` headers whom it acts as; the
//! authorizer lets only the impersonated user through.

mod support;

use std::sync::{Arc, Mutex};

use http::HeaderMap;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_client::client::auth::AuthError;
use kube_client::config::{Kubeconfig, KubeconfigOptions};
use kube_client::{Api, Client, Config};
use kube_core::Status;
use kube_core::params::{ListParams, PostParams};
use reference_apiserver::handlers::RequestInfo;
use reference_apiserver::server::{Authenticator, Authorizer, ServerConfig, UserInfo};
use support::Server;

/// What the server saw of one request's impersonation headers.
#[derive(Clone, Debug, Default, PartialEq)]
struct Seen {
    user: Option<String>,
    uid: Option<String>,
    groups: Vec<String>,
    /// `(header name, value)` of every `Impersonate-Extra-*` header, in order.
    extra: Vec<(String, String)>,
}

#[derive(Default)]
struct Impersonation {
    seen: Mutex<Vec<Seen>>,
}

impl Authenticator for Impersonation {
    fn authenticate(&self, headers: &HeaderMap) -> Result<UserInfo, Status> {
        let text = |v: &http::HeaderValue| v.to_str().unwrap().to_string();
        if headers.get("authorization").map(text).as_deref() != Some("Bearer admin-token") {
            return Err(Status::failure(401, "Unauthorized", "Unauthorized"));
        }
        let seen = Seen {
            user: headers.get("impersonate-user").map(text),
            uid: headers.get("impersonate-uid").map(text),
            groups: headers.get_all("impersonate-group").iter().map(text).collect(),
            extra: headers
                .iter()
                .filter(|(name, _)| name.as_str().starts_with("impersonate-extra-"))
                .map(|(name, v)| (name.to_string(), text(v)))
                .collect(),
        };
        self.seen.lock().unwrap().push(seen.clone());
        Ok(match seen.user {
            Some(name) => UserInfo {
                name,
                groups: seen.groups,
            },
            None => UserInfo {
                name: "admin".into(),
                groups: vec![],
            },
        })
    }
}

/// Only `alice` of the group `devs` may do anything.
struct OnlyAlice;

impl Authorizer for OnlyAlice {
    fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> Result<(), Status> {
        if user.name == "alice" && user.groups.iter().any(|g| g == "devs") {
            return Ok(());
        }
        Err(Status::failure(
            403,
            "Forbidden",
            format!("user {:?} cannot {:?} {}", user.name, info.verb, info.resource),
        ))
    }
}

async fn start() -> (Server, Arc<Impersonation>) {
    let authn = Arc::new(Impersonation::default());
    let server = Server::start_with(ServerConfig {
        authn: authn.clone(),
        authz: Arc::new(OnlyAlice),
        ..ServerConfig::default()
    })
    .await;
    (server, authn)
}

async fn client_for(server: &Server, user: &str) -> Result<Client, kube_client::Error> {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
         clusters: [{{name: k, cluster: {{server: \"{}\"}}}}]\n\
         contexts: [{{name: c, context: {{cluster: k, user: u, namespace: default}}}}]\n\
         users: [{{name: u, user: {{token: admin-token, {user}}}}}]\n",
        server.proxy.url()
    );
    let kubeconfig = Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeconfigOptions::default()).await?;
    Client::new(config)
}

fn is_forbidden(e: &kube_client::Error) -> bool {
    matches!(e, kube_client::Error::Api(s) if s.code == 403)
}

#[tokio::test]
async fn the_kubeconfig_user_acts_as_another_through_impersonation_headers() {
    let (server, seen) = start().await;
    let client = client_for(
        &server,
        r#"as: alice, as-uid: "42", as-groups: [devs, ops], as-user-extra: {"scopes.example.org/team": [blue, green], "Reason%": [audit]}"#,
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("made-by-alice".into());
    api.create(&PostParams::default(), &cm)
        .await
        .expect("alice may create");
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 1);

    let all = seen.seen.lock().unwrap().clone();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| *s == all[0]), "every request impersonates");
    assert_eq!(
        all[0],
        Seen {
            user: Some("alice".into()),
            uid: Some("42".into()),
            groups: vec!["devs".into(), "ops".into()],
            // Keys are escaped as client-go escapes them ('/' and '%' are not header token
            // characters); header names are lower case on the wire.
            extra: vec![
                ("impersonate-extra-reason%25".into(), "audit".into()),
                (
                    "impersonate-extra-scopes.example.org%2fteam".into(),
                    "blue".into()
                ),
                (
                    "impersonate-extra-scopes.example.org%2fteam".into(),
                    "green".into()
                ),
            ],
        }
    );
}

#[tokio::test]
async fn without_impersonation_the_token_user_is_refused() {
    let (server, seen) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client_for(&server, "").await.unwrap());
    let e = api.list(&ListParams::default()).await.unwrap_err();
    assert!(is_forbidden(&e), "{e}");
    assert_eq!(seen.seen.lock().unwrap()[0], Seen::default());

    // A user who is not allowed, impersonated, is refused as well.
    let api: Api<ConfigMap> =
        Api::default_namespaced(client_for(&server, "as: bob, as-groups: [ops]").await.unwrap());
    let e = api.list(&ListParams::default()).await.unwrap_err();
    assert!(is_forbidden(&e), "{e}");
}

#[tokio::test]
async fn a_request_that_impersonates_on_its_own_keeps_its_headers() {
    let (server, seen) = start().await;
    let client = client_for(&server, "as: bob, as-groups: [ops]").await.unwrap();
    let request = http::Request::get("/api/v1/namespaces/default/configmaps")
        .header("Impersonate-User", "alice")
        .header("Impersonate-Group", "devs")
        .body(Vec::new())
        .unwrap();
    let list: serde_json::Value = client.request(request).await.expect("alice may list");
    assert_eq!(list["kind"], "ConfigMapList");
    let s = seen.seen.lock().unwrap()[0].clone();
    assert_eq!(
        (s.user.as_deref(), s.groups),
        (Some("alice"), vec!["devs".to_string()])
    );
}

#[tokio::test]
async fn groups_uid_or_extra_without_a_user_are_a_configuration_error() {
    let (server, _) = start().await;
    for user in ["as-groups: [devs]", r#"as-uid: "42""#, "as-user-extra: {k: [v]}"] {
        let e = client_for(&server, user).await.unwrap_err();
        assert!(
            matches!(e, kube_client::Error::Auth(AuthError::ImpersonationWithoutUser)),
            "{user}: {e}"
        );
        assert!(e.to_string().contains("without impersonating a user"), "{e}");
    }
    // A value that cannot be a header is refused before any request.
    let e = client_for(&server, "as: \"al\\nice\"").await.unwrap_err();
    assert!(
        matches!(e, kube_client::Error::Auth(AuthError::InvalidHeader("as"))),
        "{e}"
    );
}
