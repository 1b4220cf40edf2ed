use fjord_node::GroupId;
use kafka_protocol::ResponseError;

use super::node_error;

#[test]
fn node_errors_answer_with_the_code_a_client_acts_on() {
    let group = GroupId(7);
    let code = |error| node_error(error).kafka_error();
    // Overload is retried after a backoff, never read as a failed disk.
    assert_eq!(
        code(fjord_node::Error::Overloaded(group)),
        ResponseError::RequestTimedOut
    );
    // A replica going away here sends the client to look the leader up.
    for gone in [
        fjord_node::Error::Stopped,
        fjord_node::Error::GroupRemoved(group),
        fjord_node::Error::UnknownGroup(group),
        fjord_node::Error::NotLeader {
            group,
            leader: None,
        },
    ] {
        assert_eq!(code(gone), ResponseError::NotLeaderOrFollower);
    }
}
