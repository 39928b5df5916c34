import { KAFKA_VERSIONS } from '../../deploy/kafka/launcher.js';
import { storeAndForwardSuite } from './store-and-forward-suite.js';

storeAndForwardSuite(KAFKA_VERSIONS.latest);
