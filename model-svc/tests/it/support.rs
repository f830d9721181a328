//! Starting a real server on a free port and talking to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use model_svc::catalog::{Catalog, CatalogError};
use model_svc::{CatalogLoader, Config, Stats};
use proto::v1::model_service_client::ModelServiceClient;
use proto::v1::{AnswerEvent, AnswerRequest, answer_event::Event};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

pub struct TestServer {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the built-in catalog and waits until it serves.
    pub async fn start() -> Self {
        Self::start_ready(Config::for_tests(), Box::pin(async { Catalog::builtin() })).await
    }

    /// Starts a server loading `loader` and waits until it serves.
    pub async fn start_ready(config: Config, loader: CatalogLoader) -> Self {
        let server = Self::start_with(config, loader).await;
        testkit::eventually(Duration::from_secs(120), "health SERVING", || server.health()).await;
        server
    }

    /// Starts a server without waiting for the index.
    pub async fn start_with(config: Config, loader: CatalogLoader) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let s = stats.clone();
        let task = tokio::spawn(async move {
            model_svc::run_with(listener, config, shutdown, loader, s).await.unwrap();
        });
        Self { addr, stats, stop: Some(stop), task: Some(task) }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr)).unwrap().connect().await.unwrap()
    }

    pub async fn client(&self) -> ModelServiceClient<Channel> {
        ModelServiceClient::connect(format!("http://{}", self.addr)).await.unwrap()
    }

    /// `Some(())` when the model service reports SERVING.
    pub async fn health(&self) -> Option<()> {
        (self.health_status().await == ServingStatus::Serving).then_some(())
    }

    pub async fn health_status(&self) -> ServingStatus {
        let mut c = HealthClient::new(self.channel().await);
        let r = c.check(HealthCheckRequest { service: "marquee.v1.ModelService".into() }).await.unwrap().into_inner();
        r.status()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), t).await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The shared corpus: `MARQUEE_MOVIES_DIR` when set, else the first
/// `shared/data/movies` beside the repository or one of its parents
/// (`<repo>/../shared/data/movies` for the main checkout; a git worktree
/// nested deeper finds the same directory further up).
///
/// # Panics
/// When there is no corpus: a test that needs it must fail, not pass unseen.
pub fn shared_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MARQUEE_MOVIES_DIR").map(PathBuf::from) {
        assert!(dir.join("movies.jsonl").is_file(), "MARQUEE_MOVIES_DIR={} has no movies.jsonl", dir.display());
        return dir;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = manifest.parent().expect("model-svc sits inside the repository");
    let found =
        repo.ancestors().skip(1).map(|a| a.join("shared/data/movies")).find(|d| d.join("movies.jsonl").is_file());
    found.unwrap_or_else(|| {
        panic!(
            "the shared movie corpus is missing: expected {}/../shared/data/movies/movies.jsonl (or set MARQUEE_MOVIES_DIR)",
            repo.display()
        )
    })
}

/// A loader for the shared corpus.
pub fn shared_loader(dir: PathBuf) -> CatalogLoader {
    Box::pin(async move {
        tokio::task::spawn_blocking(move || Catalog::load_dir(&dir))
            .await
            .unwrap_or_else(|e| Err(CatalogError::Io { path: "join".into(), source: std::io::Error::other(e) }))
    })
}

/// Everything one Answer stream sent.
#[derive(Debug, Default)]
pub struct Collected {
    pub text: String,
    pub deltas: usize,
    pub citations: Vec<proto::v1::Citation>,
    pub tool_calls: Vec<proto::v1::ToolCall>,
    pub fin: Option<proto::v1::Final>,
}

pub async fn ask(client: &mut ModelServiceClient<Channel>, req: AnswerRequest) -> Collected {
    let mut stream = client.answer(req).await.unwrap().into_inner();
    let mut out = Collected::default();
    while let Some(ev) = stream.message().await.unwrap() {
        assert!(out.fin.is_none(), "no event may follow Final");
        match ev {
            AnswerEvent { event: Some(Event::Text(t)) } => {
                out.text.push_str(&t.text);
                out.deltas += 1;
            }
            AnswerEvent { event: Some(Event::Citation(c)) } => out.citations.push(c),
            AnswerEvent { event: Some(Event::ToolCall(t)) } => out.tool_calls.push(t),
            AnswerEvent { event: Some(Event::Final(f)) } => out.fin = Some(f),
            AnswerEvent { event: None } => panic!("empty event"),
        }
    }
    out
}
