// Package match resolves a punch (site, vendor employee number, card) to one
// groupware account (Daou employeeNumber and loginId), and keeps the account
// directory those matches are made against.
//
// Guarantees:
//   - Never a guess. A punch is matched only when exactly one active account
//     fits; several distinct accounts are "ambiguous" (with the candidates),
//     none is "unmatched", each with a short reason for the operator
//     ("no employee 00123 after rules [last:6 pad_zeros:8] (tried 00000123)",
//     "2 candidates by card ****1234", "left 2026-03-31 (00120001)").
//   - Order: the site's override table (vendor number as written -> employee
//     number), then the employee number and aliases after the site's rules
//     (applied in order; a rule that does not apply leaves the number as is),
//     then the card: only when the number is empty or fits nobody, comparing
//     the punch's card_hash (HMAC-SHA256 of the normalized card) with the
//     accounts' card hashes (a number that fits only people who left does
//     not fall back to the card: the person is known). Raw card numbers are hashed when the roster is
//     read and kept nowhere.
//   - People who left (expiredDate on or before today in Asia/Seoul) are
//     never matched, nor accounts whose status the operator listed in
//     inactive_statuses. Status values are otherwise not interpreted: an
//     unknown one is logged once per directory snapshot (NewMatcher), with
//     the number of accounts carrying it.
//   - A Matcher is an immutable snapshot, safe for concurrent use.
//   - The Directory serves the last good copy from disk (atomic temp+rename
//     writes) when a provider is down, also after a restart, and reports that
//     it is stale; it fails only when there is neither.
//
// Recommended rules for the sample company of internal/sample (the demo uses
// testdata/match.yaml):
//
//	sites:
//	  - site: hq        # ADT Caps: the number is typed in as HR's, zeros kept
//	    rules: []
//	  - site: factory   # Secom Sabun: company code 1600 + 8-digit HR number
//	    rules: [{kind: strip_prefix, prefix: "1600"}]
//	  - site: lab       # KT Telecop: Access lost the leading zeros
//	    rules: [{kind: pad_zeros, width: 8}]
//	card_key_env: ATTND_CARD_KEY  # the same key the ingest hashes cards with
//
// A site whose ingest hashes cards with a key of its own (the ingest's
// sites.<site>.card_key_env) names it in its entry (card_key_env: LAB_CARD_KEY);
// the roster's cards are then hashed with every key, so each site's hashes
// find them.
package match
