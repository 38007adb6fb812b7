-- The table the example connector writes. ReplacingMergeTree keyed by (_topic, _offset) folds
-- the duplicates at-least-once delivery can produce after a crash (see the README).
CREATE TABLE IF NOT EXISTS default.orders
(
    order_id    UInt64,
    customer    String,
    amount      Float64,
    currency    String DEFAULT 'EUR',
    _topic      String,
    _offset     UInt64,
    _published  DateTime,
    _key        String
)
ENGINE = ReplacingMergeTree
ORDER BY (_topic, _offset)
