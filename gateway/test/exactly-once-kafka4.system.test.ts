import { KAFKA_VERSIONS } from '../../deploy/kafka/launcher.js';
import { exactlyOnceSuite } from './exactly-once-suite.js';

exactlyOnceSuite(KAFKA_VERSIONS.latest);
