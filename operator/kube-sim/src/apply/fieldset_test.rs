use serde_json::json;

use super::fieldset::*;
use crate::schema::ListTypes;

fn pod() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["a/b"], "uid": "u"},
        "spec": {"containers": [{"name": "c", "image": "i", "args": ["x", "y"]}]}
    })
}

#[test]
fn field_set_of_an_object_owns_leaves_list_items_and_tracked_metadata_only() {
    let set = FieldSet::of_object(&pod(), &ListTypes::Builtin);
    let fields = set.to_fields_v1();
    assert_eq!(
        fields,
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a/b\"": {".": {}}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                ".": {}, "f:name": {}, "f:image": {}, "f:args": {}
            }}}
        })
    );
}

#[test]
fn fields_v1_round_trips() {
    let set = FieldSet::of_object(&pod(), &ListTypes::Builtin);
    assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
}

#[test]
fn value_at_and_remove_at_find_map_list_items_by_key() {
    let mut object = pod();
    let lists = ListTypes::Builtin;
    let image = vec![
        PathElement::Field("spec".into()),
        PathElement::Field("containers".into()),
        PathElement::Key("{\"name\":\"c\"}".into()),
        PathElement::Field("image".into()),
    ];
    assert_eq!(value_at(&object, &image, &lists), Some(&json!("i")));
    assert_eq!(display_path(&image), ".spec.containers[name=\"c\"].image");
    remove_at(&mut object, &image, &lists);
    assert_eq!(value_at(&object, &image, &lists), None);
    remove_at(&mut object, &image[..3].to_vec(), &lists);
    assert_eq!(object["spec"]["containers"], json!([]));
}
