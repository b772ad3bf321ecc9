//! DynamoDB backend (in progress).
/// placeholder
#[derive(Debug)]
pub struct DynamoStore;
