//! A request body in any content type the server accepts (chosen by the first byte) is
//! decoded to an object or refused with an error; it never panics or hangs.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/apply-patch+yaml",
    "application/merge-patch+json",
];

fuzz_target!(|data: &[u8]| {
    let Some((choice, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    let content_type = CONTENT_TYPES[usize::from(*choice) % CONTENT_TYPES.len()];
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let _ = karmada_apiserver::http::request::decode_object(&headers, body);
    let _ = karmada_apiserver::protobuf::decode(body);
});
