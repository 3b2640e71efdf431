// What a platform's Java team writes from docs/platform-integrator.md: a consumer built
// from the guide's properties alone (its token fetched by the Kafka client from the hub's
// token endpoint), printing each record's value on a line and committing once it has
// the number it was told to wait for. Run as a single source file (java FeedConsumer.java).
import java.io.FileInputStream;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

public class FeedConsumer {
    public static void main(String[] args) throws Exception {
        Properties settings = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            settings.load(in);
        }
        String topic = args[1];
        int wanted = Integer.parseInt(args[2]);
        long deadline = System.currentTimeMillis() + 60_000;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                settings, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            int got = 0;
            while (got < wanted && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    System.out.println(record.value());
                    got++;
                }
            }
            consumer.commitSync();
        }
    }
}
