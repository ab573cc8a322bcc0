//! The pickle reader on any bytes: it returns a value or an error, never panics, and a value
//! it returns survives the writer: `loads(dumps(v))` reads back as the same Python repr.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = capq_pickle::loads(data) else {
        return;
    };
    let repr = value.to_string();
    let again = capq_pickle::dumps(&value);
    match capq_pickle::loads(&again) {
        Ok(back) => assert_eq!(back.to_string(), repr, "the writer changed the value"),
        // A value can be within the limits while its protocol 2 copy is not (the writer has
        // no memo, so shared references become copies); anything else is a bug.
        Err(error) => assert!(
            again.len() > data.len() || error.to_string().contains("limit"),
            "dumps wrote a pickle loads refuses: {error}"
        ),
    }
});
