-- The signed-in user with the most events of one producer (ties: the first user id).
-- {db:Identifier} the database; {producer:String} the producer.
SELECT user_id
FROM {db:Identifier}.events
WHERE producer_id = {producer:String} AND user_id != ''
GROUP BY user_id
ORDER BY count() DESC, user_id
LIMIT 1
