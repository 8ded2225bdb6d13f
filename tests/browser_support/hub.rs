//! A stand-in for JupyterHub's spawn page, for the browser test: `GET /hub/spawn` fetches the
//! lab form from the service and puts it inside a `<form>` with a start button, as
//! JupyterHub does with its spawner's options form; `POST /hub/spawn` records the submitted
//! fields as JupyterHub passes them on (field → list of values).

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Hub {
    form_url: String,
    submissions: Arc<Mutex<Vec<Map<String, Value>>>>,
}

/// The hub on a loopback port; stops when dropped.
pub struct FakeHub {
    pub url: String,
    submissions: Arc<Mutex<Vec<Map<String, Value>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeHub {
    /// A hub whose spawn page embeds the form at `form_url`.
    pub async fn start(form_url: String) -> FakeHub {
        let submissions = Arc::default();
        let hub = Hub {
            form_url,
            submissions: Arc::clone(&submissions),
        };
        let router = Router::new()
            .route("/hub/spawn", get(spawn_page).post(record))
            .with_state(hub);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the hub");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("the hub serves");
        });
        FakeHub {
            url,
            submissions,
            task,
        }
    }

    /// The submissions received so far.
    pub fn submissions(&self) -> Vec<Map<String, Value>> {
        self.submissions.lock().expect("not poisoned").clone()
    }
}

async fn spawn_page(State(hub): State<Hub>) -> Html<String> {
    let form = reqwest::get(&hub.form_url)
        .await
        .and_then(|r| r.error_for_status())
        .expect("the service serves the lab form")
        .text()
        .await
        .expect("the form's text");
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>Server Options</title></head><body>\n\
         <form id=\"spawn_form\" action=\"/hub/spawn\" method=\"post\">\n{form}\n\
         <input type=\"submit\" id=\"start\" value=\"Start\">\n</form>\n</body></html>"
    ))
}

async fn record(State(hub): State<Hub>, body: String) -> Html<&'static str> {
    let mut fields = Map::new();
    for (name, value) in url::form_urlencoded::parse(body.as_bytes()) {
        let values = fields
            .entry(name.into_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::String(value.into_owned()));
        }
    }
    hub.submissions.lock().expect("not poisoned").push(fields);
    Html("<p id=\"spawned\">Spawn requested</p>")
}
