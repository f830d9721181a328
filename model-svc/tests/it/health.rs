//! Health goes SERVING only after the index is loaded; requests before that are UNAVAILABLE.

use std::time::Duration;

use model_svc::Config;
use model_svc::catalog::Catalog;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::support::TestServer;

#[tokio::test]
async fn health_is_not_serving_until_the_catalog_is_indexed() {
    let (release, gate) = tokio::sync::oneshot::channel::<()>();
    let loader = Box::pin(async move {
        let _ = gate.await;
        Catalog::builtin()
    });
    let server = TestServer::start_with(Config::for_tests(), loader).await;
    let mut client = testkit::eventually(Duration::from_secs(10), "server accepts connections", || async {
        proto::v1::model_service_client::ModelServiceClient::connect(format!("http://{}", server.addr)).await.ok()
    })
    .await;

    assert_eq!(server.health_status().await, ServingStatus::NotServing);
    let err =
        client.search(proto::v1::SearchRequest { query: "comedy".into(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);

    release.send(()).unwrap();
    testkit::eventually(Duration::from_secs(10), "health SERVING", || server.health()).await;
    let hits = client
        .search(proto::v1::SearchRequest { query: "comedy".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert!(!hits.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_model_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = client.server_reflection_info(tokio_stream::iter([req])).await.unwrap().into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else { panic!("unexpected {msg:?}") };
    assert!(list.service.iter().any(|s| s.name == "marquee.v1.ModelService"), "{list:?}");
    server.stop().await;
}
