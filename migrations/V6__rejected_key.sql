-- V6: a rejected message is keyed by its request_id AND the sha256 of its bytes (issue 17).
--
-- Keyed by the id alone, a second, different message with an already-rejected id left no row:
-- its bytes were lost. With the pair, a redelivery of the same bytes still adds nothing, and
-- another message with the same id adds its own row. `payload_sha256` is the sha256 of the
-- whole message as received, also when `payload` holds only its first 4 KiB (`too_large`).
ALTER TABLE rejected_messages ADD COLUMN payload_sha256 text NULL;
UPDATE rejected_messages SET payload_sha256 = encode(sha256(payload), 'hex');
ALTER TABLE rejected_messages ALTER COLUMN payload_sha256 SET NOT NULL;

DROP INDEX rejected_messages_request_id_key;
-- Leads with request_id, so a look-up by id uses it as the old index did.
CREATE UNIQUE INDEX rejected_messages_request_id_payload_key
    ON rejected_messages (request_id, payload_sha256)
    WHERE request_id IS NOT NULL;
