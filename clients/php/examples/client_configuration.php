<?php

declare(strict_types=1);

// The client reference's "Client Configuration" and "Authentication".

// With Composer: require "vendor/autoload.php". From this repository: the bundled autoloader.
require __DIR__ . "/../autoload.php";

use Freepik\AiOrchestrator\OrchestrationClient;

$baseUrl = getenv('ORCHESTRATOR_BASE_URL') ?: 'http://localhost:8000';
$apiKey = getenv('ORCHESTRATOR_API_KEY') ?: 'your-api-key';

$client = new OrchestrationClient(
    baseUrl: $baseUrl,
    apiKey: $apiKey,
    timeout: 30.0,
    maxRetries: 3,
    retryBackoff: 2.0,
);

// API key authentication
$client = new OrchestrationClient(baseUrl: $baseUrl, apiKey: $apiKey);

// Bearer token authentication (a JWT, or an API key sent as a bearer token)
$client = new OrchestrationClient(baseUrl: $baseUrl, bearerToken: $apiKey);

// Everything from the environment (ORCHESTRATOR_BASE_URL, ORCHESTRATOR_API_KEY)
$fromEnv = new OrchestrationClient();

printf("%d models reachable at %s\n", count($client->listModels()), $client->baseUrl);
