//! Label selectors, field selectors and quantities, as they come in query strings and
//! objects, parse or fail with an error; what parses prints back to something that parses.
#![no_main]

use karmada_apiserver::registry::quantity::Quantity;
use karmada_apiserver::registry::selector::{FieldSelector, LabelSelector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(selector) = LabelSelector::parse(text) {
        let printed = selector.to_string();
        assert!(
            LabelSelector::parse(&printed).is_ok(),
            "{text:?} printed as {printed:?}, which does not parse"
        );
    }
    let _ = FieldSelector::parse(text);
    let _ = Quantity::parse(text);
});
