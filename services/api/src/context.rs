//! What is known of the request being served to code far from its handler: its id, which the
//! request-id layer sets for the request's task and error bodies carry.

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` as the request `id`.
pub async fn with_request_id<F: std::future::Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request being served, if called inside one.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
