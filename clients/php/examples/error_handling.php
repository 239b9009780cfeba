<?php

declare(strict_types=1);

// The client reference's "Error Handling". Run it with a bad key to see "Invalid API key".

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\Exception\AuthenticationException;
use Freepik\AiOrchestrator\Exception\ModelNotAvailableException;
use Freepik\AiOrchestrator\Exception\OrchestrationException;
use Freepik\AiOrchestrator\Exception\RateLimitException;
use Freepik\AiOrchestrator\OrchestrationClient;

$client = new OrchestrationClient(
    baseUrl: getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000',
    apiKey: getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key',
);

try {
    $response = $client->generate(prompt: 'Beautiful landscape', model: 'dall-e-3');
    echo "Generated image URL: {$response->imageUrl}\n";
} catch (AuthenticationException) {
    echo "Invalid API key\n";
} catch (RateLimitException $e) {
    echo "Rate limit exceeded. Retry after: {$e->retryAfter}\n";
} catch (ModelNotAvailableException) {
    echo "Requested model is not available\n";
} catch (OrchestrationException $e) {
    echo "Generation failed: {$e->getMessage()}\n";
}
