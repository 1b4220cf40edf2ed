use std::sync::Arc;

use anyhow::Context;
use fjord_broker::admin;
use fjord_broker::cluster::startup::Startup;
use fjord_broker::cluster::{self, client::ClusterTopics};
use fjord_broker::config_file::{self, LoadError};
use fjord_broker::data_dir::DataDir;
use fjord_broker::disk::DataDisk;
use fjord_broker::handler::{Groups, Handler};
use fjord_broker::live::{self, LiveConfig, LiveMetrics};
use fjord_broker::metrics::BrokerMetrics;
use fjord_broker::producer::ProducerIds;
use fjord_broker::security::ReloadingTls;
use fjord_broker::security::acl::{AclStore, Authorizer};
use fjord_broker::security::admin::{AdminToken, require_token};
use fjord_broker::security::admin_tls;
use fjord_broker::security::sasl::SaslListener;
use fjord_broker::security::users::ScramUsers;
use fjord_broker::server::{self, ConnectionContext};
use fjord_broker::topic_config::TopicDefaults;
use fjord_broker::topics::Topics;
use fjord_broker::{BrokerConfig, Error};
use fjord_telemetry::{HttpMetrics, Metrics, Readiness};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let args = match config_file::load_from(std::env::args_os()) {
        Ok(args) => args,
        Err(LoadError::Usage(error)) => error.exit(),
        Err(LoadError::Config(error)) => return Err(error.into()),
    };
    args.logging.init().context("cannot set up logging")?;
    let config = BrokerConfig::from_args(&args)?;
    // TLS files are checked before anything else starts: a bad certificate
    // or key stops the broker with the file named.
    let tls = config
        .tls
        .clone()
        .map(ReloadingTls::load)
        .transpose()
        .context("cannot load the kafka listener's tls files")?;
    let admin_tls_port = match &config.admin_tls {
        Some((listen, files)) => Some((
            *listen,
            ReloadingTls::load(files.clone()).context("cannot load the admin tls files")?,
        )),
        None => None,
    };
    // Read before the cluster starts: its HTTP clients send the token.
    let admin_token = config
        .admin_token_file
        .as_deref()
        .map(AdminToken::read)
        .transpose()?;
    if let Some(token) = &admin_token {
        token.send_on_own_requests();
    }
    let data_dir = DataDir::open(&config.data_dir, config.node_id)?;
    // A single broker's partitions and group log append through the
    // journal of its data disk; in a cluster they live on the node's.
    let disk = match &config.cluster {
        Some(_) => DataDisk::new(),
        None => DataDisk::open(data_dir.path())?,
    };
    let topic_defaults = TopicDefaults {
        message_bytes_max: config.message_bytes_max,
    };
    let mut metrics = Metrics::new("fjord-broker");
    let broker_metrics = BrokerMetrics::register(&mut metrics);
    let live_metrics = LiveMetrics::register(&mut metrics);
    let live = LiveConfig::new(&config);
    let http_metrics = Arc::new(HttpMetrics::register(&mut metrics));

    // Cluster mode: the node and the controller group come first; the
    // topic registry then mirrors the controller's image.
    let cluster = match &config.cluster {
        Some(settings) => {
            let node_metrics = fjord_node::NodeMetrics::default();
            node_metrics.register(metrics.registry_mut());
            Some(cluster::start(&config, settings, data_dir.path(), node_metrics).await?)
        }
        None => None,
    };
    let metrics = Arc::new(metrics);
    // A cluster's users are the controller's; a single broker keeps its own.
    let users = Arc::new(match &cluster {
        Some(cluster) => {
            ScramUsers::for_cluster(Arc::clone(&cluster.controller), Arc::clone(&cluster.client))
        }
        None => ScramUsers::open(data_dir.path()).context("cannot open the users")?,
    });
    // ACL bindings follow the same path as users.
    let acls = Arc::new(match &cluster {
        Some(cluster) => {
            AclStore::for_cluster(Arc::clone(&cluster.controller), Arc::clone(&cluster.client))
        }
        None => AclStore::open(data_dir.path()).context("cannot open the acls")?,
    });
    let authorizer = Arc::new(Authorizer::new(
        config.authorizer,
        &config.super_users,
        config.allow_everyone_if_no_acl_found,
        acls,
    ));
    let sasl = config.sasl.as_ref().map(|settings| SaslListener {
        users: Arc::clone(&users),
        mechanisms: settings.mechanisms.clone(),
        session_lifetime: settings.session_lifetime,
        authentication_timeout: settings.authentication_timeout,
    });
    let topics = Arc::new(match &cluster {
        Some(cluster) => Topics::mirror(
            data_dir.path(),
            Arc::clone(&disk),
            topic_defaults,
            Arc::new(ClusterTopics::new(Arc::clone(&cluster.client))),
        ),
        None => Topics::open(data_dir.path(), Arc::clone(&disk), topic_defaults)
            .context("cannot open topics")?,
    });
    disk.start(Arc::clone(&topics))
        .context("cannot start the disk threads")?;

    // Bound now (a taken port fails the start), listening only once serving:
    // until then clients' connections are refused, as for a broker that is
    // down, rather than answered from metadata that lags the cluster.
    let kafka_sockets = server::bind_listeners(&config.kafka_listeners)?;
    let admin_listener = bind(config.admin_listen).await?;
    info!(
        node_id = config.node_id,
        cluster_id = data_dir.cluster_id(),
        kafka = %config.listen,
        kafka_listeners = config.kafka_listeners.len(),
        admin = %admin_listener.local_addr()?,
        data_dir = %data_dir.path().display(),
        "broker started"
    );

    let shutdown = CancellationToken::new();
    let disk_check = Arc::clone(&disk);
    let startup = match &cluster {
        Some(cluster) => cluster.startup.clone(),
        None => Startup::serving(),
    };
    let startup_check = startup.clone();
    let readiness = Readiness::default()
        .with_check("disk", move || {
            let health = disk_check.health();
            Box::pin(async move { health })
        })
        .with_check("startup", move || {
            let stage = startup_check.stage();
            Box::pin(async move {
                stage
                    .not_ready_reason()
                    .map_or(Ok(()), |r| Err(r.to_owned()))
            })
        });
    let mut admin_app = admin::router(metrics, http_metrics, readiness);
    if let Some(cluster) = &cluster {
        admin_app = admin_app.merge(cluster::http::router(cluster::http::ClusterApi {
            controller: Arc::clone(&cluster.controller),
            client: Arc::clone(&cluster.client),
            startup: cluster.startup.clone(),
        }));
    }
    admin_app = admin_app.merge(live::http::router(live::http::LiveApi {
        live: live.clone(),
        topics: Arc::clone(&topics),
        metrics: live_metrics,
    }));
    if let Some((listen, tls)) = admin_tls_port {
        tls.watch(
            config.tls_reload_interval,
            broker_metrics.clone(),
            shutdown.clone(),
        );
        let listener = bind(listen).await?;
        info!(admin_tls = %listener.local_addr()?, "tls admin port open");
        admin_tls::serve(
            listener,
            tls,
            admin_app.clone(),
            admin_token.clone(),
            broker_metrics.clone(),
            shutdown.clone(),
        )?;
        if admin_token.is_none() {
            // The guarded routes need a certificate, which only TLS carries.
            admin_app = admin_app.layer(axum::middleware::from_fn(admin_tls::open_paths_only));
        }
    }
    if let Some(token) = admin_token {
        admin_app = admin_app.layer(axum::middleware::from_fn_with_state(token, require_token));
    }
    let admin_shutdown = shutdown.clone();
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin_app)
            .with_graceful_shutdown(async move { admin_shutdown.cancelled().await })
            .await
    });

    let topics_at_exit = Arc::clone(&topics);
    // In a cluster the group log is a replicated partition; this broker
    // coordinates groups only while it leads it.
    let groups = match &cluster {
        Some(_) => Groups::standby(),
        None => Groups::open(data_dir.path(), &disk).context("cannot open the group log")?,
    };
    groups.report_to(broker_metrics.group_log_partitions_served.clone());
    report_disk_use(
        data_dir.path().to_owned(),
        broker_metrics.disk_used_bytes.clone(),
    );
    if let Some(cluster) = &cluster {
        cluster::reconcile::start(
            cluster,
            Arc::clone(&topics),
            cluster::reconcile::Registration {
                rack: config.rack.clone(),
                listeners: config
                    .kafka_listeners
                    .iter()
                    .map(|listener| fjord_metadata::Listener {
                        name: listener.name.clone(),
                        host: listener.advertised_host.clone(),
                        port: listener.advertised_port,
                    })
                    .collect(),
            },
            groups.clone(),
            config
                .cluster
                .as_ref()
                .map(|settings| settings.group_log_partitions)
                .context("cluster mode without cluster settings")?,
        );
    }
    let group_log = groups.local_log();
    let mut handler = Handler::new(
        &config,
        data_dir.cluster_id(),
        topics,
        broker_metrics.clone(),
        groups,
        Arc::new(
            match &cluster {
                Some(cluster) => ProducerIds::open_for_broker(data_dir.path(), cluster.me.0),
                None => ProducerIds::open(data_dir.path()),
            }
            .context("cannot open the producer ids")?,
        ),
    );
    handler = handler.with_live(live);
    if let Some(cluster) = &cluster {
        handler = handler.with_cluster(cluster.view());
    }
    handler.groups().start_ticker();
    let broker_metrics_serving = broker_metrics.clone();
    if let Some(tls) = &tls {
        tls.watch(
            config.tls_reload_interval,
            broker_metrics.clone(),
            shutdown.clone(),
        );
    }
    if let Some(reload) = cluster.as_ref().and_then(|c| c.peer_tls_reload.as_ref()) {
        reload.watch(
            config.tls_reload_interval,
            broker_metrics.clone(),
            shutdown.clone(),
        );
    }
    let context = ConnectionContext {
        handler,
        metrics: broker_metrics,
        frame_bytes_max: config.frame_bytes_max,
        in_flight_requests_max: config.in_flight_requests_max,
        in_flight_bytes_max: config.in_flight_bytes_max,
        security_protocol: config.security_protocol,
        tls,
        sasl,
        users: Arc::clone(&users),
        super_users: config.super_users.clone(),
        authorizer,
    };
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    tokio::select! {
        () = startup.wait_serving() => {
            // Once serving, a cluster broker's image has caught up with the
            // controller, so it knows whether the bootstrap user exists.
            if let Some((user, password_file)) =
                config.sasl.as_ref().and_then(|sasl| sasl.bootstrap.as_ref())
            {
                ensure_bootstrap_user(&users, user, password_file).await?;
            }
            let startup_millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            broker_metrics_serving.serving.set(1);
            broker_metrics_serving.startup_millis.set(startup_millis);
            info!(startup_millis, "serving kafka clients");
            server::serve_listeners(kafka_sockets, &context, shutdown).await?;
        }
        () = shutdown.cancelled() => info!("stopped before serving clients"),
    }
    let flushed = tokio::task::spawn_blocking(move || {
        for partition in topics_at_exit.all_partitions().into_iter().chain(group_log) {
            if let Err(error) = partition.flush() {
                tracing::warn!(%error, "cannot flush a partition at shutdown");
            }
        }
    });
    if let Err(error) = flushed.await {
        tracing::warn!(%error, "shutdown flush task failed");
    }
    if let Some(cluster) = cluster {
        // Closes the partitions' logs; what was acknowledged is on disk.
        cluster.node.stop();
    }
    admin_task
        .await
        .context("admin task failed")?
        .context("admin server failed")?;
    info!("broker stopped");
    Ok(())
}

/// Creates the bootstrap user if it lacks a credential. In a cluster every
/// broker may try at once: each writes a fresh salt for the same password,
/// and the controller log's order decides which one stays.
async fn ensure_bootstrap_user(
    users: &ScramUsers,
    user: &str,
    password_file: &std::path::Path,
) -> anyhow::Result<()> {
    let changes = users.bootstrap_changes(user, password_file)?;
    if changes.is_empty() {
        return Ok(());
    }
    users
        .commit(&changes)
        .await
        .context("cannot create the bootstrap user")?;
    info!(%user, "bootstrap user created");
    Ok(())
}

async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen {
            address: address.to_string(),
            source,
        })
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("interrupt received, shutting down"),
        _ = terminate.recv() => info!("SIGTERM received, shutting down"),
    }
    shutdown.cancel();
}

/// Sets `gauge` to the bytes in `path` now and every 15 s after; the walk
/// runs on a blocking thread, a failed walk keeps the last value.
fn report_disk_use(path: std::path::PathBuf, gauge: prometheus_client::metrics::gauge::Gauge) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(15));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let walked = path.clone();
            match tokio::task::spawn_blocking(move || fjord_broker::data_dir::used_bytes(&walked))
                .await
            {
                Ok(Ok(bytes)) => {
                    gauge.set(i64::try_from(bytes).unwrap_or(i64::MAX));
                }
                Ok(Err(error)) => tracing::warn!(%error, "cannot measure the data directory"),
                Err(error) => tracing::warn!(%error, "the disk-use walk stopped"),
            }
        }
    });
}
