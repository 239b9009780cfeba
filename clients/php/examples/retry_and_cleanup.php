<?php

declare(strict_types=1);

// The client reference's "Best Practices": retries and batch processing. The client already
// retries 429s and 5xx with backoff (maxRetries); an outer loop is only for longer waits.

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\Exception\RateLimitException;
use Freepik\AiOrchestrator\Model\GenerationResponse;
use Freepik\AiOrchestrator\OrchestrationClient;

function generateWithRetry(OrchestrationClient $client, string $prompt, int $maxRetries = 3): GenerationResponse
{
    for ($attempt = 0; ; $attempt++) {
        try {
            return $client->generate(prompt: $prompt, model: 'dall-e-3');
        } catch (RateLimitException $e) {
            if ($attempt === $maxRetries - 1) {
                throw $e;
            }
            usleep((int) (($e->retryAfter ?? 2 ** $attempt + mt_rand() / mt_getrandmax()) * 1e6));
        }
    }
}

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
    maxRetries: 3,
);

echo 'With retry: ', generateWithRetry($client, 'Test')->imageUrl, "\n";

// Process multiple prompts efficiently
$prompts = ['Prompt 1', 'Prompt 2', 'Prompt 3'];
$responses = $client->generateBatch(prompts: $prompts, model: 'dall-e-3');
echo count($responses->generations()), " batch images\n";
// No close() needed: the curl handle is released with the client.
unset($client);
