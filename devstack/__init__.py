"""The development stack: an embedded PostgreSQL and Kafka-protocol broker (`localstack`),
`make run` (`run`) and its demo server (`demo`). No production process imports it."""
