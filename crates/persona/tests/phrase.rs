//! Her recovery phrase: a real BIP-39 mnemonic when we make one, forgiving when she types it.

use persona::Phrase;

#[test]
fn a_new_phrase_is_a_valid_24_word_bip39_mnemonic() {
    let english: Vec<&str> = bip39::Language::English.word_list().to_vec();
    for _ in 0..20 {
        let phrase = Phrase::generate();
        let words: Vec<&str> = phrase.as_str().split(' ').collect();
        assert_eq!(words.len(), 24);
        assert!(words.iter().all(|w| english.contains(w)), "{words:?}");
        let mnemonic =
            bip39::Mnemonic::parse_in(bip39::Language::English, phrase.as_str()).unwrap();
        assert_eq!(mnemonic.to_entropy().len(), 32, "256 bits of entropy");
        assert_eq!(Phrase::parse(phrase.as_str()), phrase, "already normal");
    }
}

#[test]
fn new_phrases_differ() {
    assert_ne!(Phrase::generate(), Phrase::generate());
}

#[test]
fn a_typed_phrase_is_trimmed_single_spaced_and_lower_case() {
    let typed = "\t  Cycle FESTIVAL\n juice   asthma \r\n";
    assert_eq!(Phrase::parse(typed).as_str(), "cycle festival juice asthma");
}

#[test]
fn a_phrase_without_a_valid_checksum_is_still_accepted() {
    // The original drew words independently; its phrases rarely carry a valid checksum.
    let original = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                    abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
    assert!(bip39::Mnemonic::parse(original).is_err());
    assert_eq!(Phrase::parse(original).as_str().split(' ').count(), 24);
}

#[test]
fn the_phrase_never_shows_in_debug_output() {
    let phrase = Phrase::generate();
    assert_eq!(format!("{phrase:?}"), "Phrase(..)");
}
